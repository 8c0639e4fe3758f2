// Command floor is the least a program can do to learn a container's
// published port: one GET /containers/{id}/json on the engine's unix
// socket, with no version negotiation, no JSON decoding and no client
// library. The benchmark measures portenv against it.
//
//	floor ID [PORT/PROTO]   prints the host port of PORT/PROTO (default 9092/tcp)
//
// The socket is DOCKER_HOST when that is a unix:// address, else
// /var/run/docker.sock.
package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
)

func main() {
	if len(os.Args) < 2 || len(os.Args) > 3 {
		fmt.Fprintln(os.Stderr, "usage: floor ID [PORT/PROTO]")
		os.Exit(2)
	}
	port := "9092/tcp"
	if len(os.Args) == 3 {
		port = os.Args[2]
	}
	hostPort, err := inspect(os.Args[1], port)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
	os.Stdout.WriteString(hostPort + "\n")
}

func inspect(id, port string) (string, error) {
	sock := "/var/run/docker.sock"
	if h, ok := strings.CutPrefix(os.Getenv("DOCKER_HOST"), "unix://"); ok {
		sock = h
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	// HTTP/1.0 so that the engine neither chunks the body nor keeps the
	// connection: the response ends where the stream does.
	if _, err := io.WriteString(conn, "GET /containers/"+id+"/json HTTP/1.0\r\nHost: docker\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := io.ReadAll(conn)
	if err != nil {
		return "", err
	}
	if !bytes.HasPrefix(resp, []byte("HTTP/1.0 200 ")) && !bytes.HasPrefix(resp, []byte("HTTP/1.1 200 ")) {
		line, _, _ := bytes.Cut(resp, []byte("\r\n"))
		return "", fmt.Errorf("GET /containers/%s/json: %s", id, line)
	}
	// The first binding listed under "Ports" in NetworkSettings; the
	// empty map under HostConfig.PortBindings has no HostPort to find.
	_, ports, ok := bytes.Cut(resp, []byte(`"Ports":{`))
	if !ok {
		return "", fmt.Errorf("no NetworkSettings.Ports in the response")
	}
	_, bindings, ok := bytes.Cut(ports, []byte(`"`+port+`":[`))
	if !ok {
		return "", fmt.Errorf("%s is not published", port)
	}
	_, rest, ok := bytes.Cut(bindings, []byte(`"HostPort":"`))
	if !ok {
		return "", fmt.Errorf("%s has no host port", port)
	}
	hp, _, _ := bytes.Cut(rest, []byte(`"`))
	return string(hp), nil
}
