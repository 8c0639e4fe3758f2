//go:build ignore

// Command clientgo reads its own pod the way client-go's documentation
// does it in a cluster. Without arguments it returns at once in main, so
// that its start is measured; its code is linked all the same, as the
// compiler cannot know that no argument will come. Built by
// client-go-vs-narrow.sh in a module of its own, never in portenv's.
package main

import (
	"context"
	"fmt"
	"os"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func main() {
	if len(os.Args) != 3 {
		return
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pod, err := cs.CoreV1().Pods(os.Args[1]).Get(context.Background(), os.Args[2], metav1.GetOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(pod.Spec.NodeName, pod.Status.HostIP)
}
