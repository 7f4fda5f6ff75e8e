package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
)

// cmdUsers: omnirank users forget USER.
func cmdUsers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("users", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := addClientFlags(fs)
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: omnirank users [flags] forget USER") }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 || fs.Arg(0) != "forget" {
		fs.Usage()
		return fmt.Errorf("users: want forget USER")
	}
	conn, err := client.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := pb.NewAdminServiceClient(conn).ForgetUser(ctx, &pb.ForgetUserRequest{UserId: fs.Arg(1)})
	if err != nil {
		return fmt.Errorf("forget user: %w", err)
	}
	fmt.Fprintf(stdout, "forgot %q: %d events purged, %d deleted, %d impressions purged; rankers drop the rest up to sequence %d\n",
		fs.Arg(1), resp.GetPurged(), resp.GetDeleted(), resp.GetImpressions(), resp.GetSeq())
	return nil
}
