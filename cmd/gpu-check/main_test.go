package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestRun: every starter model gets a row; the exit code is 0 only when
// every row is ok (a GPU machine with a CUDA build), else 1 with the reason
// in the row (on the CPU build: CUDA UNAVAILABLE). Bad flags exit 2.
func TestRun(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-items", "4"}, &out, &errOut)
	table := out.String()
	for _, m := range []string{"starter-text@1", "starter-image@1", "starter-audio@1"} {
		if !strings.Contains(table, m) {
			t.Fatalf("no row for %s:\n%s%s", m, table, errOut.String())
		}
	}
	switch code {
	case 0:
		if strings.Count(table, " ok\n") != 3 {
			t.Fatalf("exit 0 but not every row is ok:\n%s", table)
		}
	case 1:
		if !strings.Contains(table, "CUDA UNAVAILABLE") && !strings.Contains(table, "MISMATCH") {
			t.Fatalf("exit 1 without a reason in the table:\n%s%s", table, errOut.String())
		}
	default:
		t.Fatalf("exit %d:\n%s%s", code, table, errOut.String())
	}
	t.Logf("exit %d:\n%s", code, table)
	if code := run(context.Background(), []string{"-no-such-flag"}, &out, &errOut); code != 2 {
		t.Fatalf("bad flag: exit %d, want 2", code)
	}
}
