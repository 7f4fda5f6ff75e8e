package eval

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
)

// Config says how Run asks the ranker.
type Config struct {
	// Space is the embedding space to search; empty means the active alias.
	Space string
	// K is the number of results asked for and scored (1..1000).
	K int
	// Concurrency bounds the queries in flight.
	Concurrency int
	// Timeout bounds one query, retries included.
	Timeout time.Duration
	// Attempts is how many times a query is tried when the ranker sheds
	// load or is unavailable (ResourceExhausted, Unavailable); other errors
	// fail the query at once.
	Attempts int
	// LexicalWeight, when set, is sent with every text query: the lexical
	// (BM25) share of the hybrid ranking, 0 vector only, 1 lexical only.
	// Unset, the ranker's default applies (what shoppers get).
	LexicalWeight *float32
	// AudioMode is sent with every audio query: what the clip is used as
	// (speech, sound or both); unspecified leaves it to the ranker.
	AudioMode pb.AudioMode
}

// DefaultConfig asks the active space for the top 10, four queries at a
// time, 30 s each, three attempts.
func DefaultConfig() Config {
	return Config{K: 10, Concurrency: 4, Timeout: 30 * time.Second, Attempts: 3}
}

// maxK is RankerService's largest page.
const maxK = 1000

// Validate reports what is wrong with c.
func (c Config) Validate() error {
	var errs []error
	if c.K < 1 || c.K > maxK {
		errs = append(errs, fmt.Errorf("k = %d: want 1..%d", c.K, maxK))
	}
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("concurrency = %d: want 1 or more", c.Concurrency))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout = %s: want more than 0", c.Timeout))
	}
	if c.Attempts < 1 {
		errs = append(errs, fmt.Errorf("attempts = %d: want 1 or more", c.Attempts))
	}
	if w := c.LexicalWeight; w != nil && !(*w >= 0 && *w <= 1) {
		errs = append(errs, fmt.Errorf("lexical weight = %v: want 0..1", *w))
	}
	if _, ok := pb.AudioMode_name[int32(c.AudioMode)]; !ok {
		errs = append(errs, fmt.Errorf("audio mode = %d: unknown", c.AudioMode))
	}
	if len(errs) > 0 {
		return fmt.Errorf("eval config: %w", errors.Join(errs...))
	}
	return nil
}

// ErrMixedSpaces is returned by Run when the answers came from more than
// one space (the active alias moved during the evaluation).
var ErrMixedSpaces = errors.New("answers came from more than one space")

// Run asks the ranker each query as a client would, scores the answers and
// aggregates them. A query that fails (an error from the ranker, a timeout,
// an unreadable media file) is counted in Result.Failed with its error in
// PerQuery, never dropped. Run returns an error only for a bad config, a
// cancelled ctx or answers from mixed spaces.
func Run(ctx context.Context, client pb.RankerServiceClient, queries []Query, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	out := make([]QueryResult, len(queries))
	spaces := make([]string, len(queries))
	sem := make(chan struct{}, cfg.Concurrency)
	var wg sync.WaitGroup
	for i, q := range queries {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			out[i], spaces[i] = ask(ctx, client, q, cfg)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("evaluation: %w", err)
	}
	space, err := answeringSpace(cfg.Space, spaces)
	if err != nil {
		return Result{}, err
	}
	return Summarise(space, cfg.K, out), nil
}

// answeringSpace is the space every answer named, or the requested one
// when none was answered.
func answeringSpace(requested string, spaces []string) (string, error) {
	seen := map[string]bool{}
	for _, s := range spaces {
		if s != "" {
			seen[s] = true
		}
	}
	switch len(seen) {
	case 0:
		return requested, nil
	case 1:
		for s := range seen {
			return s, nil
		}
	}
	names := make([]string, 0, len(seen))
	for s := range seen {
		names = append(names, s)
	}
	sort.Strings(names)
	return "", fmt.Errorf("%w: %v; evaluate again, or name the space with --space", ErrMixedSpaces, names)
}

// ask sends one query and scores the answer; it also returns the space
// that answered ("" on failure).
func ask(ctx context.Context, client pb.RankerServiceClient, q Query, cfg Config) (QueryResult, string) {
	res := QueryResult{ID: q.ID, Kind: q.Kind()}
	req, err := request(q, cfg)
	if err != nil {
		res.Error = err.Error()
		return res, ""
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	var resp *pb.RecommendResponse
	for attempt := 1; ; attempt++ {
		resp, err = client.Recommend(ctx, req)
		if err == nil || attempt >= cfg.Attempts || !retryable(err) {
			break
		}
		select {
		case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
		case <-ctx.Done():
		}
	}
	if err != nil {
		res.Error = fmt.Sprintf("recommend: %v", err)
		return res, ""
	}
	if cfg.Space != "" && resp.GetSpace() != cfg.Space {
		res.Error = fmt.Sprintf("answered by space %q, not %q", resp.GetSpace(), cfg.Space)
		return res, ""
	}
	res.Ranked = make([]string, 0, len(resp.GetResults()))
	for _, r := range resp.GetResults() {
		res.Ranked = append(res.Ranked, r.GetId())
	}
	res.Scores = Score(res.Ranked, q.Relevant, cfg.K)
	if t := resp.GetTranscript(); t != nil {
		heard := t.GetText()
		res.Heard = &heard
		if q.Said != "" {
			res.WordErrors, res.SaidWords = WordErrors(q.Said, heard)
		}
	}
	return res, resp.GetSpace()
}

func retryable(err error) bool {
	switch status.Code(err) {
	case codes.ResourceExhausted, codes.Unavailable:
		return true
	}
	return false
}

// request builds the RecommendRequest of q, reading its media.
func request(q Query, cfg Config) (*pb.RecommendRequest, error) {
	req := &pb.RecommendRequest{QueryText: q.Text, PositiveIds: q.Like, UserId: q.User, Space: cfg.Space, K: int32(cfg.K)}
	if q.Text != "" {
		req.LexicalWeight = cfg.LexicalWeight
	}
	var err error
	// A Query built in code rather than read from a file has no resolved
	// paths: its Image and Audio are the paths.
	if p := cmp.Or(q.ImagePath, q.Image); p != "" {
		if req.QueryImage, err = os.ReadFile(p); err != nil {
			return nil, fmt.Errorf("read image: %w", err)
		}
	}
	if p := cmp.Or(q.AudioPath, q.Audio); p != "" {
		if req.QueryAudio, err = os.ReadFile(p); err != nil {
			return nil, fmt.Errorf("read audio: %w", err)
		}
		req.AudioMode = cfg.AudioMode
	}
	return req, nil
}

// CompareSpaces runs queries against space a and then space b with cfg
// (cfg.Space is ignored) and sets the two Results side by side: how a
// re-embedding campaign's space is judged against the active one before
// promotion. Both Results keep their PerQuery outcomes.
func CompareSpaces(ctx context.Context, client pb.RankerServiceClient, queries []Query, cfg Config, a, b string) (Comparison, error) {
	if a == "" || b == "" {
		return Comparison{}, fmt.Errorf("compare spaces: name both spaces (got %q and %q)", a, b)
	}
	results := make([]Result, 2)
	for i, space := range []string{a, b} {
		c := cfg
		c.Space = space
		r, err := Run(ctx, client, queries, c)
		if err != nil {
			return Comparison{}, fmt.Errorf("evaluate space %s: %w", space, err)
		}
		results[i] = r
	}
	return Compare(results[0], results[1])
}
