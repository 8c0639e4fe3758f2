// Package check is the Kafka example's client: it asserts, with a real
// Kafka client (franz-go), that brokers form one cluster reachable at the
// addresses they advertise, or that a client cannot use a cluster whose
// brokers advertise addresses it cannot reach. The example's test and the
// cluster tests (through the command in ../client) both use it.
package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Topic is the brokers' topic: one partition per broker, partition N led
// by broker N.
const Topic = "portenv-demo"

// PerPartition is how many records Cluster produces to each partition.
const PerPartition = 25

// Logf hears what was checked.
type Logf func(format string, args ...any)

// Metadata asks exactly the broker at seed for the cluster's metadata.
func Metadata(ctx context.Context, seed string) (*kmsg.MetadataResponse, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seed))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(Topic)
	req.Topics = append(req.Topics, rt)
	seeds := cl.SeedBrokers()
	if len(seeds) != 1 {
		return nil, fmt.Errorf("want one seed broker, got %d", len(seeds))
	}
	resp, err := seeds[0].RetriableRequest(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("metadata from %s: %v", seed, err)
	}
	return resp.(*kmsg.MetadataResponse), nil
}

// Advertised is what m says each broker's address is.
func Advertised(m *kmsg.MetadataResponse) map[int32]string {
	got := map[int32]string{}
	for _, mb := range m.Brokers {
		got[mb.NodeID] = net.JoinHostPort(mb.Host, strconv.Itoa(int(mb.Port)))
	}
	return got
}

// sameBrokers says how got differs from want, or nil.
func sameBrokers(from string, got, want map[int32]string) error {
	if len(got) != len(want) {
		return fmt.Errorf("%s lists %d brokers %v, want %d %v", from, len(got), got, len(want), want)
	}
	for id, addr := range want {
		if got[id] != addr {
			return fmt.Errorf("%s says broker %d is at %q, want %q", from, id, got[id], addr)
		}
	}
	return nil
}

// Cluster asserts that the brokers at want (broker id to address) form one
// cluster, each asked on its own describing all of them at those
// addresses, then bootstraps one client through bootstrap only and
// produces to and consumes from every partition, hence every broker.
func Cluster(ctx context.Context, logf Logf, want map[int32]string, bootstrap string) error {
	for id, addr := range want {
		m, err := Metadata(ctx, addr)
		if err != nil {
			return err
		}
		from := fmt.Sprintf("broker %d at %s", id, addr)
		if err := sameBrokers(from, Advertised(m), want); err != nil {
			return err
		}
		if len(m.Topics) != 1 || m.Topics[0].ErrorCode != 0 || len(m.Topics[0].Partitions) != len(want) {
			return fmt.Errorf("%s: bad topic metadata %+v", from, m.Topics)
		}
		for _, p := range m.Topics[0].Partitions {
			if p.Leader != p.Partition {
				return fmt.Errorf("%s: partition %d led by %d, want %d", from, p.Partition, p.Leader, p.Partition)
			}
		}
		logf("metadata from %s: %d brokers %v", from, len(m.Brokers), Advertised(m))
	}
	return produceConsume(ctx, logf, want, bootstrap)
}

func produceConsume(ctx context.Context, logf Logf, want map[int32]string, bootstrap string) error {
	n := int32(len(want))
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	md, err := adm.Metadata(ctx, Topic)
	if err != nil {
		return fmt.Errorf("metadata through %s: %v", bootstrap, err)
	}
	got := map[int32]string{}
	for _, mb := range md.Brokers {
		got[mb.NodeID] = net.JoinHostPort(mb.Host, strconv.Itoa(int(mb.Port)))
	}
	if err := sameBrokers("a client bootstrapped through "+bootstrap, got, want); err != nil {
		return err
	}
	logf("client bootstrapped through %s sees %d brokers", bootstrap, len(md.Brokers))

	produced, err := produce(ctx, bootstrap, n)
	if err != nil {
		return err
	}
	ends, err := adm.ListEndOffsets(ctx, Topic)
	if err != nil {
		return fmt.Errorf("list end offsets: %v", err)
	}
	for p := range n {
		o, ok := ends.Lookup(Topic, p)
		if !ok || o.Err != nil {
			return fmt.Errorf("end offset of partition %d: %v %v", p, ok, o.Err)
		}
		if o.Offset != int64(produced[p]) {
			return fmt.Errorf("broker %d holds %d records in partition %d, produced %d", p, o.Offset, p, produced[p])
		}
	}
	consumed, err := consume(ctx, bootstrap, n)
	if err != nil {
		return err
	}
	for p := range n {
		logf("broker %d at %s: partition %d, produced %d, consumed %d records", p, want[p], p, produced[p], consumed[p])
		if produced[p] != PerPartition || consumed[p] != produced[p] {
			return fmt.Errorf("broker %d: produced %d, consumed %d, want %d each", p, produced[p], consumed[p], PerPartition)
		}
	}
	return nil
}

// produce writes PerPartition records to each of the n partitions.
func produce(ctx context.Context, bootstrap string, n int32) (map[int32]int, error) {
	producer, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DefaultProduceTopic(Topic))
	if err != nil {
		return nil, err
	}
	defer producer.Close()
	produced := map[int32]int{}
	for p := range n {
		var recs []*kgo.Record
		for i := 0; i < PerPartition; i++ {
			recs = append(recs, &kgo.Record{Partition: p, Value: fmt.Appendf(nil, "p%d-r%d", p, i)})
		}
		pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
		results := producer.ProduceSync(pctx, recs...)
		pcancel()
		if err := results.FirstErr(); err != nil {
			return nil, fmt.Errorf("produce to partition %d (broker %d): %v", p, p, err)
		}
		for _, r := range results {
			if r.Record.Partition != p {
				return nil, fmt.Errorf("record for partition %d landed in %d", p, r.Record.Partition)
			}
			produced[p]++
		}
	}
	return produced, nil
}

// consume reads every record back, from every partition.
func consume(ctx context.Context, bootstrap string, n int32) (map[int32]int, error) {
	offsets := map[int32]kgo.Offset{}
	for p := range n {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{Topic: offsets}))
	if err != nil {
		return nil, err
	}
	defer consumer.Close()
	consumed := map[int32]int{}
	total, all := 0, int(n)*PerPartition
	cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
	defer ccancel()
	var errs []error
	for total < all {
		fs := consumer.PollFetches(cctx)
		if cctx.Err() != nil {
			return nil, fmt.Errorf("consumed %d of %d records before timing out: %v", total, all, consumed)
		}
		fs.EachError(func(tp string, p int32, err error) {
			errs = append(errs, fmt.Errorf("fetch %s/%d: %v", tp, p, err))
		})
		fs.EachRecord(func(r *kgo.Record) {
			if exp := fmt.Sprintf("p%d-r%d", r.Partition, r.Offset); string(r.Value) != exp {
				errs = append(errs, fmt.Errorf("partition %d offset %d holds %q, want %q", r.Partition, r.Offset, r.Value, exp))
			}
			consumed[r.Partition]++
			total++
		})
	}
	return consumed, errors.Join(errs...)
}

// FailLimit is how long Fails gives the client to produce.
const FailLimit = 10 * time.Second

// Fails asserts that the broker at bootstrap advertises the brokers at
// want, and that a client bootstrapped through it cannot produce within
// FailLimit: the addresses advertised are not reachable from here.
func Fails(ctx context.Context, logf Logf, want map[int32]string, bootstrap string) error {
	m, err := Metadata(ctx, bootstrap)
	if err != nil {
		return err
	}
	for _, mb := range m.Brokers {
		logf("metadata from %s: broker %d at %s:%d", bootstrap, mb.NodeID, mb.Host, mb.Port)
	}
	if err := sameBrokers("the broker at "+bootstrap, Advertised(m), want); err != nil {
		return err
	}
	// Quick metadata refreshes give the client every chance to succeed.
	producer, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DefaultProduceTopic(Topic),
		kgo.RecordDeliveryTimeout(FailLimit), kgo.MetadataMinAge(250*time.Millisecond))
	if err != nil {
		return err
	}
	defer producer.Close()
	pctx, pcancel := context.WithTimeout(ctx, FailLimit)
	defer pcancel()
	start := time.Now()
	err = producer.ProduceSync(pctx, &kgo.Record{Partition: 0, Value: []byte("lost")}).FirstErr()
	elapsed := time.Since(start).Round(100 * time.Millisecond)
	if err == nil {
		return fmt.Errorf("produce through %s succeeded; the check cannot tell success from failure", bootstrap)
	}
	if elapsed > 2*FailLimit {
		return fmt.Errorf("produce failed only after %s, limit %s", elapsed, FailLimit)
	}
	logf("produce through %s failed after %s, as it must: %v", bootstrap, elapsed, err)
	return nil
}
