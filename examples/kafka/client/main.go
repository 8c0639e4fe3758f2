// Command client is the Kafka example's client as a program, for a test
// that runs it apart from its own process (on a Kubernetes node, as
// another user):
//
//	client -bootstrap HOST:PORT -brokers 0=HOST:PORT,1=HOST:PORT,2=HOST:PORT [-fail]
//
// It bootstraps through -bootstrap and checks that the brokers advertise
// the addresses of -brokers and serve produce and fetch there; with -fail,
// that they advertise those addresses and a client cannot produce. Exit
// status 0 when the check holds, 1 when it does not.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/portenv/portenv/examples/kafka/check"
)

func main() {
	bootstrap := flag.String("bootstrap", "", "the one broker to bootstrap through, HOST:PORT")
	brokers := flag.String("brokers", "", "every broker's id and advertised address, ID=HOST:PORT,...")
	fail := flag.Bool("fail", false, "check that a client cannot produce instead")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("client: ")
	want, err := parseBrokers(*brokers)
	if err != nil || *bootstrap == "" {
		log.Fatalf("usage: client -bootstrap HOST:PORT -brokers 0=HOST:PORT,... [-fail] (%v)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if *fail {
		err = check.Fails(ctx, log.Printf, want, *bootstrap)
	} else {
		err = check.Cluster(ctx, log.Printf, want, *bootstrap)
	}
	if err != nil {
		log.Print("FAILED: ", err)
		os.Exit(1)
	}
	log.Print("OK")
}

func parseBrokers(s string) (map[int32]string, error) {
	want := map[int32]string{}
	for _, f := range strings.Split(s, ",") {
		id, addr, ok := strings.Cut(f, "=")
		n, err := strconv.Atoi(id)
		if !ok || err != nil || addr == "" {
			return nil, fmt.Errorf("-brokers %q: %q is not ID=HOST:PORT", s, f)
		}
		want[int32(n)] = addr
	}
	return want, nil
}
