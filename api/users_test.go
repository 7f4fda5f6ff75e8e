package api

import (
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/ranker"
	"github.com/omnirank/omnirank/topology"
)

// TestForgetUserRPC: AdminService.ForgetUser over loopback gRPC purges the
// user's events (recorded through FeedbackService) and writes the
// tombstone rankers follow; an empty user id is InvalidArgument.
func TestForgetUserRPC(t *testing.T) {
	js := startJetStream(t)
	ctx := context.Background()
	adm, err := NewAdmin(ctx, js, nil)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := ranker.NewFeedback(js)
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	pb.RegisterAdminServiceServer(gs, adm)
	pb.RegisterFeedbackServiceServer(gs, fb)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })

	now := time.Now()
	var events []*pb.FeedbackEvent
	for i, u := range []string{"alice", "bob", "alice"} {
		events = append(events, &pb.FeedbackEvent{UserId: u, ProductId: "p", Kind: "view", TimestampMs: now.Add(-time.Duration(i) * time.Second).UnixMilli()})
	}
	if _, err := pb.NewFeedbackServiceClient(conn).Record(ctx, &pb.RecordRequest{Events: events}); err != nil {
		t.Fatal(err)
	}
	ac := pb.NewAdminServiceClient(conn)
	res, err := ac.ForgetUser(ctx, &pb.ForgetUserRequest{UserId: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if res.GetPurged() != 2 || res.GetSeq() != 3 {
		t.Fatalf("forget: %v, want 2 purged up to sequence 3", res)
	}
	stream, err := js.Stream(ctx, topology.StreamFeedback)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := stream.Info(ctx); err != nil || info.State.Msgs != 1 {
		t.Fatalf("stream after forget: %+v %v, want bob's one event", info.State, err)
	}
	kv, err := js.KeyValue(ctx, topology.BucketForgotten)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, topology.FeedbackUserToken("alice"))
	if err != nil {
		t.Fatal(err)
	}
	var fg topology.Forgotten
	if err := json.Unmarshal(e.Value(), &fg); err != nil || fg.Seq != 3 {
		t.Fatalf("tombstone %s: %v", e.Value(), err)
	}
	if _, err := ac.ForgetUser(ctx, &pb.ForgetUserRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("empty user: %v, want InvalidArgument", err)
	}
}
