package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/omnirank/omnirank/auth"
	"github.com/omnirank/omnirank/internal/tracing"
)

const defaultAddr = "127.0.0.1:50051"

// clientFlags are the flags every client command takes to reach a server:
// its address, TLS (a CA to verify it, a client certificate for mutual
// TLS) and the bearer token (--token, or OMNIRANK_TOKEN).
type clientFlags struct {
	addr, caFile, certFile, keyFile, serverName, token string
	traceExporter, traceEndpoint                       string
}

// addClientFlags defines the client flags on fs.
func addClientFlags(fs *flag.FlagSet) *clientFlags {
	c := &clientFlags{}
	fs.StringVar(&c.addr, "addr", envOr("OMNIRANK_ADDR", defaultAddr), "omnirank gRPC address")
	fs.StringVar(&c.caFile, "tls-ca", os.Getenv("OMNIRANK_TLS_CA"), "CA certificate (PEM) to verify the server: connects with TLS")
	fs.StringVar(&c.certFile, "tls-cert", os.Getenv("OMNIRANK_TLS_CERT"), "client certificate (PEM) for mutual TLS: connects with TLS")
	fs.StringVar(&c.keyFile, "tls-key", os.Getenv("OMNIRANK_TLS_KEY"), "client key (PEM) for mutual TLS")
	fs.StringVar(&c.serverName, "tls-server-name", "", "name to check the server's certificate against (default: the host of --addr)")
	fs.StringVar(&c.token, "token", "", "bearer token (default: $OMNIRANK_TOKEN; the variable keeps it out of ps)")
	fs.StringVar(&c.traceExporter, "trace-exporter", envOr("OMNIRANK_TRACE_EXPORTER", tracing.ExporterNone),
		"record a client span per call and send its context to the server: "+strings.Join(tracing.Exporters, ", "))
	fs.StringVar(&c.traceEndpoint, "trace-endpoint", os.Getenv("OMNIRANK_TRACE_ENDPOINT"), "OTLP collector (host:port, or http(s):// URL)")
	return c
}

// dial connects to the server. It uses TLS when any TLS flag is given, and
// sends the token on every call; a token goes over plaintext only to a
// loopback address.
func (c *clientFlags) dial() (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	useTLS := c.caFile != "" || c.certFile != "" || c.serverName != ""
	if useTLS {
		cfg, err := auth.ClientTLS(c.caFile, c.certFile, c.keyFile, c.serverName)
		if err != nil {
			return nil, err
		}
		creds = credentials.NewTLS(cfg)
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(auth.DefaultMaxRequestBytes), grpc.MaxCallRecvMsgSize(auth.DefaultMaxRequestBytes))}
	token := c.token
	if token == "" {
		token = os.Getenv("OMNIRANK_TOKEN")
	}
	if token != "" {
		if !useTLS && !auth.IsLoopback(c.addr) {
			return nil, fmt.Errorf("refusing to send the token to %s without TLS: give --tls-ca", c.addr)
		}
		opts = append(opts, grpc.WithPerRPCCredentials(auth.Bearer{Token: token, RequireTLS: !auth.IsLoopback(c.addr)}))
	}
	traces, err := tracing.Start(context.Background(), tracing.Config{Exporter: c.traceExporter, Endpoint: c.traceEndpoint,
		SampleRatio: 1, Service: "omnirank-cli", Writer: os.Stderr, Synchronous: true})
	if err != nil {
		return nil, err
	}
	if traces.Enabled() {
		opts = append(opts, grpc.WithStatsHandler(otelgrpc.NewClientHandler(tracing.GRPCOptions(traces.TracerProvider())...)))
	}
	conn, err := grpc.NewClient(c.addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", c.addr, err)
	}
	return conn, nil
}
