// Command broker is one broker of a small Kafka cluster whose members run in
// separate containers. It exists to show, with a real Kafka client, that
// every broker of a cluster behind published ports can advertise its own
// host port when portenv starts it.
//
// Each container runs one process. The process runs an in-memory Kafka
// (github.com/twmb/franz-go/pkg/kfake) configured as a cluster of
// KAFKA_NUM_BROKERS brokers, of which only broker KAFKA_BROKER_ID is served
// here; the others are placeholders that report the address their own
// container advertises. All processes build the same cluster: one topic
// with one partition per broker, partition N led by broker N. A client
// therefore sees one cluster, whichever broker it asks, and each partition's
// records live in the one process that leads it.
//
// The advertised address comes from the environment, as with the
// wurstmeister/kafka image: KAFKA_ADVERTISED_LISTENERS (for example
// PLAINTEXT://127.0.0.1:32769), or KAFKA_ADVERTISED_HOST_NAME and
// KAFKA_ADVERTISED_PORT. Brokers learn each other's advertised address
// through files in a directory shared by all containers (PEERS_DIR).
//
// Environment:
//
//	KAFKA_BROKER_ID             this broker's id, 0 to KAFKA_NUM_BROKERS-1 (required)
//	KAFKA_NUM_BROKERS           brokers in the cluster (default 3)
//	KAFKA_PORT                  container port to listen on (default 9092)
//	KAFKA_ADVERTISED_LISTENERS  PLAINTEXT://HOST:PORT to advertise
//	KAFKA_ADVERTISED_HOST_NAME  host to advertise, with KAFKA_ADVERTISED_PORT
//	KAFKA_ADVERTISED_PORT       port to advertise, with KAFKA_ADVERTISED_HOST_NAME
//	KAFKA_TOPIC                 topic to create (default portenv-demo)
//	PEERS_DIR                   directory shared by the brokers (default /peers)
//	PEERS_TIMEOUT               how long to wait for the other brokers (default 60s)
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kversion"
)

const clusterID = "portenv-kafka-example"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "broker:", err)
		os.Exit(1)
	}
}

type config struct {
	id         int
	n          int
	port       string
	advertised string // host:port
	topic      string
	peersDir   string
	timeout    time.Duration
}

func loadConfig() (config, error) {
	c := config{
		n:        3,
		port:     envOr("KAFKA_PORT", "9092"),
		topic:    envOr("KAFKA_TOPIC", "portenv-demo"),
		peersDir: envOr("PEERS_DIR", "/peers"),
		timeout:  60 * time.Second,
	}
	var err error
	if c.id, err = strconv.Atoi(os.Getenv("KAFKA_BROKER_ID")); err != nil {
		return c, fmt.Errorf("KAFKA_BROKER_ID must be a broker number: %v", err)
	}
	if v := os.Getenv("KAFKA_NUM_BROKERS"); v != "" {
		if c.n, err = strconv.Atoi(v); err != nil || c.n < 1 {
			return c, fmt.Errorf("KAFKA_NUM_BROKERS=%q is not a positive number", v)
		}
	}
	if c.id < 0 || c.id >= c.n {
		return c, fmt.Errorf("KAFKA_BROKER_ID=%d is outside 0..%d", c.id, c.n-1)
	}
	if v := os.Getenv("PEERS_TIMEOUT"); v != "" {
		if c.timeout, err = time.ParseDuration(v); err != nil {
			return c, fmt.Errorf("PEERS_TIMEOUT: %v", err)
		}
	}
	if c.advertised, err = advertisedAddr(); err != nil {
		return c, err
	}
	return c, nil
}

// advertisedAddr reads the address to advertise the way start-kafka.sh does:
// KAFKA_ADVERTISED_LISTENERS first, else KAFKA_ADVERTISED_HOST_NAME and
// KAFKA_ADVERTISED_PORT. An empty or malformed value is an error: a broker
// must not guess how clients reach it.
func advertisedAddr() (string, error) {
	if l := os.Getenv("KAFKA_ADVERTISED_LISTENERS"); l != "" {
		if strings.Contains(l, ",") {
			return "", fmt.Errorf("KAFKA_ADVERTISED_LISTENERS=%q: this broker serves one listener", l)
		}
		_, hostport, ok := strings.Cut(l, "://")
		if !ok {
			return "", fmt.Errorf("KAFKA_ADVERTISED_LISTENERS=%q is not NAME://HOST:PORT", l)
		}
		return checkHostPort("KAFKA_ADVERTISED_LISTENERS", hostport)
	}
	host, port := os.Getenv("KAFKA_ADVERTISED_HOST_NAME"), os.Getenv("KAFKA_ADVERTISED_PORT")
	if host == "" || port == "" {
		return "", errors.New("set KAFKA_ADVERTISED_LISTENERS, or KAFKA_ADVERTISED_HOST_NAME and KAFKA_ADVERTISED_PORT")
	}
	return checkHostPort("KAFKA_ADVERTISED_HOST_NAME/KAFKA_ADVERTISED_PORT", net.JoinHostPort(host, port))
}

func checkHostPort(from, hostport string) (string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", fmt.Errorf("%s: %v", from, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("%s: port %q is not a port number", from, port)
	}
	if host == "" {
		return "", fmt.Errorf("%s: empty host in %q", from, hostport)
	}
	return hostport, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run() error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := publishSelf(cfg); err != nil {
		return err
	}
	peers, err := waitForPeers(ctx, cfg)
	if err != nil {
		return err
	}

	// kfake creates its brokers in order 0..n-1 and asks ListenFn for one
	// listener each. Broker cfg.id gets the real listener; the others get
	// placeholders. kfake reads a listener's Addr() whenever it describes
	// the broker to a client, so Addr() is what gets advertised.
	ready := make(chan struct{})
	var calls atomic.Int32
	listen := func(network, _ string) (net.Listener, error) {
		i := int(calls.Add(1)) - 1
		if i >= cfg.n {
			return nil, fmt.Errorf("unexpected listener request %d for a %d-broker cluster", i, cfg.n)
		}
		addr := advertised(peers[i])
		if i != cfg.id {
			return newPlaceholder(addr), nil
		}
		ln, err := net.Listen(network, ":"+cfg.port)
		if err != nil {
			return nil, err
		}
		return &servedListener{Listener: ln, addr: addr, ready: ready}, nil
	}

	cl, err := kfake.NewCluster(
		kfake.NumBrokers(cfg.n),
		kfake.ClusterID(clusterID),
		kfake.SeedTopics(int32(cfg.n), cfg.topic),
		kfake.ListenFn(listen),
		// Each process creates the topic on its own, so each would give
		// it a different topic id. The protocol of Kafka 2.7, the last
		// one before topic ids, keeps every broker's answers identical.
		kfake.MaxVersions(kversion.V2_7_0()),
	)
	if err != nil {
		return fmt.Errorf("starting broker: %w", err)
	}
	defer cl.Close()

	// Leaders are chosen at random when a topic is created; fix them so
	// that every process agrees: partition p is led by broker p.
	for p := 0; p < cfg.n; p++ {
		if err := cl.MoveTopicPartition(cfg.topic, int32(p), int32(p)); err != nil {
			return fmt.Errorf("placing partition %d: %w", p, err)
		}
	}
	addrs := cl.ListenAddrs()
	for i, a := range addrs {
		if a != peers[i] {
			return fmt.Errorf("broker %d would advertise %s, want %s", i, a, peers[i])
		}
	}
	close(ready) // start serving clients

	fmt.Printf("broker %d ready: listening on :%s, advertising %s, cluster %s, topic %s (%d partitions)\n",
		cfg.id, cfg.port, cfg.advertised, strings.Join(addrs, " "), cfg.topic, cfg.n)
	<-ctx.Done()
	fmt.Printf("broker %d stopping\n", cfg.id)
	return nil
}

func peerFile(dir string, id int) string {
	return filepath.Join(dir, fmt.Sprintf("broker-%d.addr", id))
}

// publishSelf writes this broker's advertised address for the others,
// atomically, so that no broker ever reads half a file.
func publishSelf(cfg config) error {
	if err := os.MkdirAll(cfg.peersDir, 0o755); err != nil {
		return err
	}
	final := peerFile(cfg.peersDir, cfg.id)
	tmp := final + ".tmp"
	if err := os.WriteFile(tmp, []byte(cfg.advertised+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, final)
}

func waitForPeers(ctx context.Context, cfg config) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	peers := make([]string, cfg.n)
	for {
		missing := 0
		for i := range peers {
			if peers[i] != "" {
				continue
			}
			b, err := os.ReadFile(peerFile(cfg.peersDir, i))
			if err != nil {
				missing++
				continue
			}
			a, err := checkHostPort(peerFile(cfg.peersDir, i), strings.TrimSpace(string(b)))
			if err != nil {
				return nil, err
			}
			peers[i] = a
		}
		if missing == 0 {
			return peers, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waited %s for the other brokers' addresses in %s, %d missing", cfg.timeout, cfg.peersDir, missing)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// advertised is a net.Addr that reports the address clients must use.
type advertised string

func (a advertised) Network() string { return "tcp" }
func (a advertised) String() string  { return string(a) }

// servedListener is the listener of the broker this process serves. It
// reports the advertised address and accepts nothing until the cluster is
// fully set up.
type servedListener struct {
	net.Listener
	addr  net.Addr
	ready <-chan struct{}
}

func (l *servedListener) Accept() (net.Conn, error) {
	<-l.ready
	return l.Listener.Accept()
}

func (l *servedListener) Addr() net.Addr { return l.addr }

// placeholder stands for a broker served by another process: it accepts
// nothing and reports that broker's advertised address.
type placeholder struct {
	addr   net.Addr
	closed chan struct{}
	once   sync.Once
}

func newPlaceholder(addr net.Addr) *placeholder {
	return &placeholder{addr: addr, closed: make(chan struct{})}
}

func (p *placeholder) Accept() (net.Conn, error) {
	<-p.closed
	return nil, net.ErrClosed
}

func (p *placeholder) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

func (p *placeholder) Addr() net.Addr { return p.addr }
