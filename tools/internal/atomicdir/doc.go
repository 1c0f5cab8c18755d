// Package atomicdir replaces generated output — directories and files
// beside them — so that readers, and the next run after a crash, find either
// the previous output or the new one: never a mix of both, never nothing.
//
// New output is staged in a hidden directory beside its destination (same
// file system, so renames are atomic) and synced to disk. CommitAll then
// writes a journal (the write-ahead record of what replaces what) into the
// directory of every destination, swaps each item into place — with
// renameat2(RENAME_EXCHANGE) where the kernel has it, so an existing
// destination is never missing, with two renames otherwise — syncing the
// directories after each step, and only then removes the previous content
// and the journal. A run that dies after the journal was written is rolled
// forward by the next one that stages output in one of those directories
// (or by Recover): the new output, whole.
//
// It also owns the rule that protects users' directories: a directory is
// replaced only when it is missing, empty, or holds the Marker file that
// this package writes into the directories it creates (StageOwnedDir,
// ResetOwnedDir).
//
// It must not decide what is generated, nor where: callers choose the paths
// and the content. It must not delete anything it did not stage, but the
// previous content of a destination it replaced and owned directories on
// request.
package atomicdir
