package discover

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/portenv/portenv/internal/atomicfile"
)

// DefaultGateway returns the IPv4 default gateway of this process's
// network namespace, as /proc/net/route lists it: what
// `route -n | awk '/UG/{print $2}'` prints, without route. root is
// prefixed to the path, for tests.
func DefaultGateway(root string) (string, error) {
	f, err := os.Open(filepath.Join(root, "/proc/net/route"))
	if err != nil {
		return "", errors.New("cannot read /proc/net/route for the default gateway: " + oneLine(atomicfile.Unwrap(err)))
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// Iface Destination Gateway Flags RefCnt Use Metric Mask ...
		fl := strings.Fields(sc.Text())
		if len(fl) < 8 || fl[1] != "00000000" || fl[7] != "00000000" {
			continue
		}
		gw, err := hex.DecodeString(fl[2])
		if err != nil || len(gw) != 4 || fl[2] == "00000000" {
			continue
		}
		// The kernel prints the address's four bytes as one number in host
		// byte order; reading it back the same way gives the bytes.
		ip := make(net.IP, 4)
		binary.NativeEndian.PutUint32(ip, binary.BigEndian.Uint32(gw))
		return ip.String(), nil
	}
	return "", errors.New("this container has no default route (/proc/net/route lists none), so {{gateway}} has no value; is it on --network none?")
}
