// Package natstest gives tests a real embedded NATS server with JetStream
// (natsembed) on a temporary store, connected over TCP with nats.go, and
// closes both when the test ends.
package natstest

import (
	"io"
	"log/slog"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/natsembed"
)

// JetStream starts a server on t.TempDir(), connects to it and returns the
// JetStream context; the server's own log lines are discarded.
func JetStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	ns, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Close)
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}
