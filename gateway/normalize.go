package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/gateway/connections"
	"github.com/switchboard-gw/switchboard/gateway/pipeline"
)

// headerFlags collects repeated -H 'Name: value' flags.
type headerFlags adapters.Header

func (h headerFlags) String() string { return "" }

func (h headerFlags) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("header %q: want 'Name: value'", v)
	}
	adapters.Header(h).Set(strings.TrimSpace(name), strings.TrimSpace(value))
	return nil
}

// normalizeCmd runs the inbound path offline (DESIGN §9): verify with the
// given headers, parse, and print one canonical event per line. Exit 0
// when accepted (even with zero events), 1 with the reason when refused,
// 2 for usage errors.
func normalizeCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("switchboard normalize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (YAML); the embedded default when empty")
	name := fs.String("connection", "", "connection name the webhook arrived on (required)")
	hdr := headerFlags{}
	fs.Var(hdr, "H", "request header 'Name: value' (repeatable), e.g. the signature header")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *name == "" {
		fmt.Fprintln(stderr, "switchboard normalize: -connection is required")
		return 2
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	conns, err := connections.Build(cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	conn := conns.Get(*name)
	if conn == nil {
		fmt.Fprintf(stderr, "switchboard normalize: unknown connection %q\n", *name)
		return 1
	}
	body, err := io.ReadAll(io.LimitReader(stdin, int64(cfg.Limits.MaxBodyBytes)+1))
	if err != nil {
		fmt.Fprintln(stderr, "switchboard normalize: reading body:", err)
		return 1
	}
	if len(body) > cfg.Limits.MaxBodyBytes {
		fmt.Fprintf(stderr, "switchboard normalize: body_too_large: more than %d bytes\n", cfg.Limits.MaxBodyBytes)
		return 1
	}
	events, err := pipeline.Accept(conn.Inbound, adapters.Header(hdr), body, nil)
	if err != nil {
		_, code := pipeline.Status(err)
		fmt.Fprintf(stderr, "switchboard normalize: rejected (%s): %v\n", code, err)
		return 1
	}
	w := bufio.NewWriter(stdout)
	var buf []byte
	for i := range events {
		buf = events[i].AppendJSON(buf[:0])
		buf = append(buf, '\n')
		w.Write(buf)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(stderr, "switchboard normalize:", err)
		return 1
	}
	return 0
}
