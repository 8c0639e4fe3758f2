// Package cluster holds the end-to-end tests of portenv's Kubernetes
// source on a real one-node cluster (.ci/k8s.sh): pods that run portenv,
// the values it gives checked against what the cluster's API reports, and
// clients on the node that reach the pods at those values.
//
// With PORTENV_E2E=1 and no cluster around, the tests run themselves in
// one: TestMain starts `bash .ci/k8s.sh run -- <this test binary>`. Inside
// it (PORTENV_E2E_K8S set) they build portenv and the Kafka example's
// broker and client, load one image, and run.
package cluster
