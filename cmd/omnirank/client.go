package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/omnirank/omnirank/api"
	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/ranker"
	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/topology"
)

// localProduct is a product read from disk with the files of its media.
type localProduct struct {
	product storage.Product
	files   map[string]string // media key -> file path
}

// readCatalogue reads a folder of product folders (each with product.json
// and its media beside it) or a JSONL file (one product per line, media keys
// are paths relative to the file; the object key is the file's base name).
func readCatalogue(path string) ([]localProduct, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return readJSONL(path)
	}
	var out []localProduct
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		pj := filepath.Join(path, e.Name(), storage.ProductFile)
		if !e.IsDir() {
			continue
		}
		data, err := os.ReadFile(pj)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var p storage.Product
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, fmt.Errorf("%s: %w", pj, err)
		}
		lp := localProduct{product: p, files: map[string]string{}}
		for _, m := range p.Media {
			lp.files[m.Key] = filepath.Join(path, e.Name(), m.Key)
		}
		out = append(out, lp)
	}
	return out, nil
}

func readJSONL(path string) ([]localProduct, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dir := filepath.Dir(path)
	var out []localProduct
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	line := 0
	for sc.Scan() {
		line++
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var p storage.Product
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		lp := localProduct{files: map[string]string{}}
		for i, m := range p.Media {
			base := filepath.Base(m.Key)
			lp.files[base] = filepath.Join(dir, m.Key)
			p.Media[i].Key = base
		}
		lp.product = p
		out = append(out, lp)
	}
	return out, sc.Err()
}

func cmdIngest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := addClientFlags(fs)
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: omnirank ingest [--addr A] PATH")
	}
	prods, err := readCatalogue(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("read catalogue: %w", err)
	}
	conn, err := client.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	stream, err := pb.NewCatalogServiceClient(conn).BulkUpsert(ctx)
	if err != nil {
		return fmt.Errorf("bulk upsert: %w", err)
	}
	start := time.Now()
	var lastDraw time.Time
	var localErrs []string
	for i, lp := range prods {
		req := &pb.UpsertRequest{Product: api.ToProto(&lp.product)}
		for _, m := range lp.product.Media {
			data, err := os.ReadFile(lp.files[m.Key])
			if err != nil {
				localErrs = append(localErrs, fmt.Sprintf("%s: media %s: %v", lp.product.ID, m.Key, err))
				continue
			}
			ct := m.ContentType
			if ct == "" {
				ct = mime.TypeByExtension(filepath.Ext(m.Key))
			}
			req.Media = append(req.Media, &pb.MediaBlob{Key: m.Key, Kind: m.Kind, ContentType: ct, Data: data})
		}
		if err := stream.Send(req); err != nil {
			break // the real error comes with CloseAndRecv
		}
		if !*quiet && (i+1 == len(prods) || time.Since(lastDraw) > 100*time.Millisecond) {
			progress(stderr, i+1, len(prods), start)
			lastDraw = time.Now()
		}
	}
	resp, err := stream.CloseAndRecv()
	if !*quiet {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return fmt.Errorf("bulk upsert: %w", err)
	}
	fmt.Fprintf(stdout, "ingest: %d products accepted, %d rejected in %s\n", resp.GetAccepted(), resp.GetRejected(), time.Since(start).Round(time.Millisecond))
	for _, e := range append(localErrs, resp.GetErrors()...) {
		fmt.Fprintln(stdout, "  rejected:", e)
	}
	return nil
}

func progress(w io.Writer, done, total int, start time.Time) {
	const width = 30
	filled := width * done / max(total, 1)
	rate := float64(done) / max(time.Since(start).Seconds(), 1e-9)
	fmt.Fprintf(w, "\r[%s%s] %d/%d products  %.0f/s", strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, total, rate)
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func cmdQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := addClientFlags(fs)
	text := fs.String("text", "", "query text")
	image := fs.String("image", "", "query image file")
	audio := fs.String("audio", "", "query audio file")
	audioMode := fs.String("audio-mode", "", "what --audio is used as: speech (transcribed, searched as text), sound (matched by how it sounds) or both (default: the server's)")
	user := fs.String("user", "", "user id (personalisation)")
	category := fs.String("category", "", "category prefix filter, e.g. clothing/shoes")
	maxPrice := fs.Float64("max-price", 0, "price upper bound (0: none)")
	k := fs.Int("k", 10, "number of results")
	mmr := fs.Float64("mmr", 0, "MMR diversity lambda (0: off)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	lexWeight := fs.Float64("lexical-weight", ranker.DefaultLexicalWeight,
		"lexical (BM25) share of a text query's hybrid ranking, 0..1: 0 vector only, 1 lexical only (unset: the server's default)")
	fusion := fs.String("fusion", "rrf", "how hybrid retrieval fuses the lexical and vector lists: rrf or normalized")
	space := fs.String("space", "", "space to query (default: the active one; a campaign's space before promotion)")
	var like, unlike stringList
	fs.Var(&like, "like", "positive example product id (repeatable)")
	fs.Var(&unlike, "unlike", "negative example product id (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	req := &pb.RecommendRequest{QueryText: *text, PositiveIds: like, NegativeIds: unlike, UserId: *user,
		K: int32(*k), Explain: true, MmrLambda: float32(*mmr), Space: *space}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "lexical-weight" {
			w := float32(*lexWeight)
			req.LexicalWeight = &w
		}
	})
	if w := req.LexicalWeight; w != nil && !(*w >= 0 && *w <= 1) {
		return fmt.Errorf("--lexical-weight %v: want 0..1", *lexWeight)
	}
	switch strings.ToLower(*fusion) {
	case "rrf":
		req.Fusion = pb.Fusion_FUSION_RRF
	case "normalized", "normalised":
		req.Fusion = pb.Fusion_FUSION_NORMALIZED
	default:
		return fmt.Errorf("--fusion %q: want rrf or normalized", *fusion)
	}
	mode, err := parseAudioMode(*audioMode)
	if err != nil {
		return err
	}
	req.AudioMode = mode
	if *image != "" {
		if req.QueryImage, err = os.ReadFile(*image); err != nil {
			return err
		}
	}
	if *audio != "" {
		if req.QueryAudio, err = os.ReadFile(*audio); err != nil {
			return err
		}
	}
	if *category != "" || *maxPrice > 0 {
		req.Filter = &pb.Filter{}
		if *category != "" {
			req.Filter.CategoryPrefix = strings.Split(*category, "/")
		}
		if *maxPrice > 0 {
			req.Filter.Price = &pb.PriceRange{Max: *maxPrice}
		}
	}
	conn, err := client.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := pb.NewRankerServiceClient(conn).Recommend(ctx, req)
	if err != nil {
		return fmt.Errorf("recommend: %w", err)
	}
	if *asJSON {
		return printQueryJSON(stdout, resp)
	}
	fmt.Fprintf(stdout, "space %s\n", resp.GetSpace())
	if t := resp.GetTranscript(); t != nil {
		fmt.Fprintf(stdout, "heard %q (confidence %.2f, language model %s)\n", t.GetText(), t.GetConfidence(), orNone(t.GetLanguageModel()))
	}
	for i, r := range resp.GetResults() {
		fmt.Fprintf(stdout, "%2d. %-28s %6.3f  %s  [%s]\n", i+1, r.GetId(), r.GetScore(), r.GetTitle(), contributions(r.GetContributions()))
	}
	if len(resp.GetResults()) == 0 {
		fmt.Fprintln(stdout, "(no results)")
	}
	return nil
}

// parseAudioMode reads --audio-mode; "" leaves it to the server.
func parseAudioMode(s string) (pb.AudioMode, error) {
	switch strings.ToLower(s) {
	case "":
		return pb.AudioMode_AUDIO_MODE_UNSPECIFIED, nil
	case "speech":
		return pb.AudioMode_AUDIO_MODE_SPEECH, nil
	case "sound":
		return pb.AudioMode_AUDIO_MODE_SOUND, nil
	case "both":
		return pb.AudioMode_AUDIO_MODE_BOTH, nil
	}
	return 0, fmt.Errorf("--audio-mode %q: want speech, sound or both", s)
}

func orNone(s string) string {
	if s == "" {
		return "(general)"
	}
	return s
}

func contributions(cs []*pb.Contribution) string {
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		if c.GetValue() != 0 {
			parts = append(parts, fmt.Sprintf("%s %.3f", c.GetName(), c.GetValue()))
		}
	}
	return strings.Join(parts, ", ")
}

func printQueryJSON(w io.Writer, resp *pb.RecommendResponse) error {
	type result struct {
		ID            string             `json:"id"`
		Title         string             `json:"title"`
		Score         float32            `json:"score"`
		Contributions map[string]float32 `json:"contributions"`
	}
	type transcript struct {
		Text          string  `json:"text"`
		Confidence    float32 `json:"confidence"`
		LanguageModel string  `json:"language_model,omitempty"`
	}
	out := struct {
		Space      string            `json:"space"`
		Models     map[string]string `json:"models"`
		Transcript *transcript       `json:"transcript,omitempty"`
		Results    []result          `json:"results"`
	}{Space: resp.GetSpace(), Models: resp.GetModels(), Results: []result{}}
	if t := resp.GetTranscript(); t != nil {
		out.Transcript = &transcript{Text: t.GetText(), Confidence: t.GetConfidence(), LanguageModel: t.GetLanguageModel()}
	}
	for _, r := range resp.GetResults() {
		c := map[string]float32{}
		for _, x := range r.GetContributions() {
			c[x.GetName()] = x.GetValue()
		}
		out.Results = append(out.Results, result{ID: r.GetId(), Title: r.GetTitle(), Score: r.GetScore(), Contributions: c})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := addClientFlags(fs)
	limit := fs.Int("errors", 20, "how many rejected products to list")
	if err := fs.Parse(args); err != nil {
		return err
	}
	conn, err := client.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	ac := pb.NewAdminServiceClient(conn)
	st, err := ac.Status(ctx, &pb.StatusRequest{})
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	fmt.Fprintf(stdout, "products: %d   rejected: %d\n", st.GetProducts(), st.GetFailed())
	fmt.Fprintf(stdout, "states: %s\n", statesLine(st.GetStates()))
	fmt.Fprintf(stdout, "dead letters: %d (omnirank dlq list)\n", st.GetDeadLetters())
	for _, sp := range st.GetSpaces() {
		mark := ""
		if sp.GetActive() {
			mark = " (active)"
		}
		fmt.Fprintf(stdout, "space %s%s: %d vectors, dim %d\n", sp.GetName(), mark, sp.GetVectors(), sp.GetDim())
	}
	names := make([]string, 0, len(st.GetPending()))
	for n := range st.GetPending() {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(stdout, "pending %-24s %d\n", n, st.GetPending()[n])
	}
	errs, err := ac.ListErrors(ctx, &pb.ListErrorsRequest{Limit: int32(*limit)})
	if err != nil {
		return fmt.Errorf("list errors: %w", err)
	}
	for _, e := range errs.GetErrors() {
		fmt.Fprintf(stdout, "rejected %s [%s] %s: %s\n", e.GetProductId(), e.GetStage(), e.GetObjectKey(), e.GetReason())
	}
	return nil
}

// knownStates are the product states status always shows, in pipeline order.
var knownStates = []string{string(topology.StatePending), string(topology.StateIndexed),
	string(topology.StatePartial), string(topology.StateFailed)}

// statesLine formats product counts per state: the known states in
// pipeline order (0 when absent), then any others alphabetically.
func statesLine(states map[string]int64) string {
	parts := make([]string, 0, len(knownStates)+len(states))
	for _, s := range knownStates {
		parts = append(parts, fmt.Sprintf("%s %d", s, states[s]))
	}
	others := make([]string, 0, len(states))
	for s := range states {
		if !slices.Contains(knownStates, s) {
			others = append(others, s)
		}
	}
	sort.Strings(others)
	for _, s := range others {
		parts = append(parts, fmt.Sprintf("%s %d", s, states[s]))
	}
	return strings.Join(parts, " · ")
}

// cmdGet prints one product as CatalogService.Get returns it: the product,
// its ingest state and error, and the transcript of its speech audio.
func cmdGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := addClientFlags(fs)
	asJSON := fs.Bool("json", false, "print the response as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("get: want one product id, got %d arguments", fs.NArg())
	}
	conn, err := client.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := pb.NewCatalogServiceClient(conn).Get(ctx, &pb.GetRequest{Id: fs.Arg(0)})
	if err != nil {
		return fmt.Errorf("get %s: %w", fs.Arg(0), err)
	}
	if *asJSON {
		data, err := protojson.MarshalOptions{Multiline: true, UseProtoNames: true}.Marshal(resp)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, string(data))
		return err
	}
	printProduct(stdout, resp)
	return nil
}

// printProduct writes a GetResponse for people, one field a line.
func printProduct(w io.Writer, resp *pb.GetResponse) {
	p := resp.GetProduct()
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%-12s %s\n", k+":", v)
		}
	}
	line("id", p.GetId())
	line("title", p.GetTitle())
	state := resp.GetState()
	if resp.GetError() != "" {
		state += " — " + resp.GetError()
	}
	line("state", state)
	line("brand", p.GetBrand())
	line("category", strings.Join(p.GetCategory(), " > "))
	if p.GetPrice() != 0 {
		line("price", fmt.Sprintf("%.2f %s", p.GetPrice(), p.GetCurrency()))
	}
	keys := make([]string, 0, len(p.GetAttributes()))
	for k := range p.GetAttributes() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		line(k, p.GetAttributes()[k])
	}
	line("description", p.GetDescription())
	for _, m := range p.GetMedia() {
		kind := m.GetKind()
		if m.GetSpeech() {
			kind += ", speech"
		}
		line("media", fmt.Sprintf("%s (%s)", m.GetKey(), kind))
	}
	if t := resp.GetTranscript(); t != nil {
		text := t.GetText()
		if text == "" {
			text = "(no words recognised)"
		}
		line("transcript", fmt.Sprintf("%s  [confidence %.2f, %s%s]", text, t.GetConfidence(), t.GetModel(), lmSuffix(t.GetLanguageModel())))
	}
}

func lmSuffix(lm string) string {
	if lm == "" {
		return ""
	}
	return ", language model " + lm
}
