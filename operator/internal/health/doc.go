// Package health holds the manager's probe checks beyond a plain ping.
package health
