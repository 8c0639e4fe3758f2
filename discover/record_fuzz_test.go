package discover

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzRecord feeds arbitrary bytes to the reading of a record file, as a
// workload reads <id>.json in the agent's directory: it never panics, a
// refusal says why in a user's words, and a record it accepts is one it
// would accept again as Encode writes it, with the same content.
func FuzzRecord(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("testdata", "record.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	for _, seed := range []string{
		`{"version":1,"container":{"id":"a"}}`,
		`{"version":1,"host":{"error":"x"},"container":{"id":"a","ports":null,"labels":{},"networks":{"n":{"aliases":[]},"m":null},"exposed":[],"swarm":{}}}`,
		`{"version":1,"container":{"id":"a","ports":[{"port":"53/UDP","hostIP":"::","hostPort":-1},{"port":"9092"}],"exposed":["1/sctp"],"unpublishable":["x"]}}`,
		`{"version":1,"container":{"id":"a","ports":[{"port":9092}]}}`,
		`{"VERSION":1,"Container":{"ID":"a","Pid":1e3}}`,
		`{"version":2,"container":{"id":"a"}}`,
		`{"version":1,"container":null}`,
		`{"version":1,"container":{"id":""}}`,
		`{"version":0}`, `{"version":"1"}`, `[]`, `null`, `{`, "", "\xff",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := DecodeRecord(bytes.NewReader(data))
		if err != nil {
			checkMessage(t, err)
			return
		}
		if rec.Version == 0 || rec.Version > RecordVersion || rec.Container == nil || rec.Container.ID == "" {
			t.Fatalf("accepted a record of version %d, container %+v", rec.Version, rec.Container)
		}
		for _, b := range rec.Container.Ports {
			if b.Port == (Port{}) {
				// A binding without "port" (or with null) is read as port
				// 0/"", which Encode writes as "0/" and the reader then
				// refuses: no round trip to hold it to.
				return
			}
		}
		enc, err := rec.Encode()
		if err != nil {
			t.Fatalf("cannot encode %+v: %v", rec, err)
		}
		back, err := DecodeRecord(bytes.NewReader(enc))
		if err != nil {
			t.Fatalf("refuses its own encoding (%v):\n%s", err, enc)
		}
		if !reflect.DeepEqual(recordContent(back), recordContent(rec)) {
			t.Fatalf("read back\n%+v\nwant\n%+v\nencoded as\n%s", back.Container, rec.Container, enc)
		}
		if again, err := back.Encode(); err != nil || !bytes.Equal(again, enc) {
			t.Fatalf("encoded again as\n%s\n(%v), not\n%s", again, err, enc)
		}
	})
}

// recordContent is rec with every empty list or map as nil: the record
// format leaves them out (or, for ports, writes []), so a record read
// back has them empty where the first had them nil, or the other way.
func recordContent(rec *Record) *Record {
	r := *rec
	c := *rec.Container
	r.Container = &c
	if len(c.Labels) == 0 {
		c.Labels = nil
	}
	if len(c.Ports) == 0 {
		c.Ports = nil
	}
	if len(c.Exposed) == 0 {
		c.Exposed = nil
	}
	if len(c.Unpublishable) == 0 {
		c.Unpublishable = nil
	}
	if len(c.Networks) == 0 {
		c.Networks = nil
	} else {
		nets := make(map[string]Network, len(c.Networks))
		for name, n := range c.Networks {
			if len(n.Aliases) == 0 {
				n.Aliases = nil
			}
			nets[name] = n
		}
		c.Networks = nets
	}
	return &r
}
