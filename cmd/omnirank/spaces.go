package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
)

// nameFirst lets a subcommand take its NAME before its flags
// (`spaces create NAME --block ...`): Go's flag package stops at the first
// argument that is not a flag.
func nameFirst(args []string) (name string, rest []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "", args
}

func cmdSpaces(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	usage := "usage: omnirank spaces [--addr A] list | show NAME | create NAME --block MODALITY=MODEL@VERSION[:WEIGHT]... | retire NAME"
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("spaces: no subcommand")
	}
	sub := args[0]
	name, rest := nameFirst(args[1:])
	fs := flag.NewFlagSet("spaces "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := addClientFlags(fs)
	var blocks stringList
	if sub == "create" {
		fs.Var(&blocks, "block", "MODALITY=MODEL@VERSION[:WEIGHT] (repeatable; the model must be registered)")
	}
	fs.Usage = func() { fmt.Fprintln(stderr, usage) }
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if name == "" && fs.NArg() > 0 {
		// NAME after some flags: the flags after it are parsed too.
		name = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return err
		}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("spaces %s: unexpected argument %q", sub, fs.Arg(0))
	}
	if sub != "list" && name == "" {
		return fmt.Errorf("spaces %s: no space NAME given", sub)
	}
	conn, err := client.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	ac := pb.NewAdminServiceClient(conn)
	switch sub {
	case "list":
		resp, err := ac.ListSpaces(ctx, &pb.ListSpacesRequest{})
		if err != nil {
			return fmt.Errorf("list spaces: %w", err)
		}
		for _, sp := range resp.GetSpaces() {
			printSpace(stdout, sp)
		}
		return nil
	case "show":
		sp, err := ac.GetSpace(ctx, &pb.GetSpaceRequest{Name: name})
		if err != nil {
			return fmt.Errorf("show space %s: %w", name, err)
		}
		printSpace(stdout, sp)
		return nil
	case "create":
		sp, err := ac.CreateSpace(ctx, &pb.CreateSpaceRequest{Name: name, Blocks: blocks})
		if err != nil {
			return fmt.Errorf("create space %s: %w", name, err)
		}
		fmt.Fprint(stdout, "created ")
		printSpace(stdout, sp)
		return nil
	case "retire":
		r, err := ac.RetireSpace(ctx, &pb.RetireSpaceRequest{Name: name})
		if err != nil {
			return fmt.Errorf("retire space %s: %w", name, err)
		}
		fmt.Fprintf(stdout, "retired %s: %d embeddings, %d features, %d snapshot objects removed\n", name, r.GetEmbeddings(), r.GetFeatures(), r.GetSnapshots())
		return nil
	default:
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("spaces: unknown subcommand %q", sub)
	}
}

func printSpace(w io.Writer, sp *pb.SpaceInfo) {
	var marks []string
	if sp.GetActive() {
		marks = append(marks, "active")
	}
	if st := sp.GetCampaignState(); st != "" {
		marks = append(marks, "campaign "+st)
	}
	mark := ""
	if len(marks) > 0 {
		mark = " (" + strings.Join(marks, ", ") + ")"
	}
	fmt.Fprintf(w, "%s%s  dim %d  vectors %d\n", sp.GetName(), mark, sp.GetDim(), sp.GetVectors())
	for _, b := range sp.GetBlocks() {
		fmt.Fprintf(w, "  %-6s %s  dim %d  weight %g\n", b.GetModality(), b.GetModel(), b.GetDim(), b.GetWeight())
	}
}
