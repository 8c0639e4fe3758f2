//go:build ignore

// Command narrow reads its own pod over portenv's narrow client. Without
// arguments it returns at once in main, as clientgo.go does. Built by
// client-go-vs-narrow.sh in a module of its own that points at this tree.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/portenv/portenv/discover"
)

func main() {
	if len(os.Args) != 3 {
		return
	}
	k, err := discover.ConnectKube(os.Getenv, discover.DefaultServiceAccountDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer k.Close()
	pod, err := k.Pod(context.Background(), os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(pod.Spec.NodeName, pod.Status.HostIP)
}
