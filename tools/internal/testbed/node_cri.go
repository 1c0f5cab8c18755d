package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// criClient talks to containerd's CRI service, as the kubelet does.
func criClient(socket string) (runtimeapi.RuntimeServiceClient, func(), error) {
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to containerd at %s: %w", socket, err)
	}
	return runtimeapi.NewRuntimeServiceClient(conn), func() { _ = conn.Close() }, nil
}

// criReady succeeds once containerd reports its runtime and its network
// (the CNI configuration) ready: the kubelet would otherwise register a
// NotReady node.
func criReady(socket string) func(context.Context) error {
	return func(ctx context.Context) error {
		rs, closeConn, err := criClient(socket)
		if err != nil {
			return err
		}
		defer closeConn()
		status, err := rs.Status(ctx, &runtimeapi.StatusRequest{})
		if err != nil {
			return err
		}
		// Other conditions are warnings (cgroup v1's deprecation, say).
		for _, cond := range status.GetStatus().GetConditions() {
			if (cond.Type == runtimeapi.RuntimeReady || cond.Type == runtimeapi.NetworkReady) && !cond.Status {
				return fmt.Errorf("containerd reports %s false: %s %s", cond.Type, cond.Reason, cond.Message)
			}
		}
		return nil
	}
}

// removePodSandboxes stops and removes every pod sandbox through CRI, once
// the kubelet is gone: containerd stops the containers, tells the CNI
// plugin to release each pod's address and veth, and unmounts the pods'
// root file systems and network namespaces. What a crash leaves instead is
// killed through the node's cgroups and unmounted by teardown.
func removePodSandboxes(ctx context.Context, socket string) error {
	if _, err := os.Stat(socket); err != nil {
		return nil
	}
	rs, closeConn, err := criClient(socket)
	if err != nil {
		return err
	}
	defer closeConn()
	list, err := rs.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return fmt.Errorf("listing pod sandboxes: %w", err)
	}
	var errs []error
	for _, sb := range list.GetItems() {
		if _, err := rs.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			errs = append(errs, fmt.Errorf("stopping pod sandbox %s (%s/%s): %w", sb.Id, sb.GetMetadata().GetNamespace(), sb.GetMetadata().GetName(), err))
			continue
		}
		if _, err := rs.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			errs = append(errs, fmt.Errorf("removing pod sandbox %s: %w", sb.Id, err))
		}
	}
	return errors.Join(errs...)
}
