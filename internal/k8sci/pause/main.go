// Command pause is the sandbox process of the pods of the test cluster that
// .ci/k8s.sh runs: it holds the pod's namespaces until it is told to stop.
// Static, so that its image needs nothing else.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
