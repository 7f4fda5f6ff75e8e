package server

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// screenshotDirEnv names a folder that also receives the console's
// screenshots (`make screenshots` sets it to docs/).
const screenshotDirEnv = "OMNIRANK_SCREENSHOTS"

// browser starts headless Chromium (Debian's chromium package, installed by
// `make deps`) and returns a context to drive it; the test is skipped with
// the reason when no Chromium can start here.
func browser(t *testing.T) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-headless-shell", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("no Chromium on PATH: install Debian's chromium (make deps) to run the browser tests")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // root in a container has no user namespace for the sandbox
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// The first run starts the browser, which lives as long as the
	// context of that run: it gets no timeout of its own (chromedp.Run).
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx, chromedp.Navigate("about:blank")) }()
	select {
	case err := <-started:
		if err != nil {
			t.Skipf("Chromium at %s cannot start here: %v", path, err)
		}
	case <-time.After(time.Minute):
		cancelCtx()
		t.Skipf("Chromium at %s did not start within a minute", path)
	}
	return ctx
}

// shoot writes a full-page screenshot under the test's temp dir and, when
// OMNIRANK_SCREENSHOTS names a folder, there too.
func shoot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100 gives PNG, less JPEG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dirs := []string{t.TempDir()}
	if d := os.Getenv(screenshotDirEnv); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s (%d bytes)", p, len(png))
	}
}

// cardsJS describes the result cards of a grid once every picture in it
// has finished loading: per card its id, the picture's natural width and
// the number of contribution bars.
const cardsJS = `(() => {
  const cards = [...document.querySelectorAll(%q + ' .result')];
  if (!cards.length || cards.some(c => { const i = c.querySelector('img'); return i && !i.complete; })) return null;
  return cards.map(c => { const i = c.querySelector('img');
    return {id: c.dataset.id, width: i ? i.naturalWidth : 0, bars: c.querySelectorAll('.bar').length}; });
})()`

type card struct {
	ID    string `json:"id"`
	Width int    `json:"width"`
	Bars  int    `json:"bars"`
}

// waitCards polls the grid until its cards and their pictures are loaded.
func waitCards(t *testing.T, ctx context.Context, grid string) []card {
	t.Helper()
	cards, err := chromedp.Run(ctx, chromedp.Poll[[]card](fmt.Sprintf(cardsJS, grid), chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		status, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#search-status")))
		t.Fatalf("result cards in %s: %v (status %q)", grid, err, status)
	}
	return cards
}

func checkCards(t *testing.T, cards []card, first string) {
	t.Helper()
	if len(cards) == 0 || cards[0].ID != first {
		t.Fatalf("cards %+v, want %s first", cards, first)
	}
	for _, c := range cards {
		if c.Width <= 0 {
			t.Errorf("card %s: picture did not load (naturalWidth %d)", c.ID, c.Width)
		}
		if c.Bars == 0 {
			t.Errorf("card %s: no contribution bars", c.ID)
		}
	}
}

// openSearch loads the search page afresh (no query state left over).
func openSearch(base string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(chromedp.Navigate("about:blank"), chromedp.Navigate(base+"/#/search"),
		chromedp.WaitReady(chromedp.CSS("#q-text")))
}

// searchText runs a text query on a fresh search page.
func searchText(base, q string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(openSearch(base),
		chromedp.SetValue(chromedp.CSS("#q-text"), q),
		chromedp.Click(chromedp.CSS("#q-go")))
}

// searched runs actions that start a search and returns the cards of that
// search, not of the one before (the grid's data-seq numbers searches).
func searched(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) []card {
	t.Helper()
	const seq = `String(document.querySelector('#results') && document.querySelector('#results').dataset.seq || '')`
	before, err := chromedp.Run(ctx, chromedp.Evaluate[string](seq))
	if err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(tctx, append(actions, chromedp.Poll[chromedp.Void](fmt.Sprintf(`%s !== %q`, seq, before),
		chromedp.WithPollingTimeout(30*time.Second)))...); err != nil {
		status, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#search-status")))
		t.Fatalf("search: %v (status %q)", err, status)
	}
	return waitCards(t, ctx, "#results")
}

// consoleURLEnv names a running server's console for TestConsoleScreenshots.
const consoleURLEnv = "OMNIRANK_CONSOLE_URL"

// TestConsoleScreenshots photographs the console of a server that is
// already running with a catalogue (scripts/screenshots.sh: the sample
// catalogue, for the README); it checks the same as TestConsoleBrowser's
// text query and is skipped unless OMNIRANK_CONSOLE_URL is set.
func TestConsoleScreenshots(t *testing.T) {
	base := os.Getenv(consoleURLEnv)
	if base == "" {
		t.Skip(consoleURLEnv + " is not set: run `make screenshots`")
	}
	q := os.Getenv("OMNIRANK_CONSOLE_QUERY")
	if q == "" {
		q = "red shoes"
	}
	ctx := browser(t)
	cards := searched(t, ctx, searchText(base, q))
	checkCards(t, cards, cards[0].ID)
	shoot(t, ctx, "console-search.png")
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/#/product/"+cards[0].ID)); err != nil {
		t.Fatal(err)
	}
	waitCards(t, ctx, "#similar")
	shoot(t, ctx, "console-product.png")
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/#/pipeline"),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('#pipe-summary .card').length === 6`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		updated, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash + ' | ' + document.querySelector('#page-pipeline').innerText`))
		t.Fatalf("pipeline page: %v (%s)", err, updated)
	}
	shoot(t, ctx, "console-pipeline.png")
}

// TestConsoleBrowser drives the console in headless Chromium against a real
// server on loopback: a text query, an image upload, a product page and the
// pipeline page.
func TestConsoleBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and Chromium")
	}
	ctx := browser(t)
	_, base := startHTTPCatalogue(t)
	run := func(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		tctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := chromedp.Do(tctx, actions...); err != nil {
			t.Fatal(err)
		}
	}
	text := func(t *testing.T, sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}

	t.Run("text query", func(t *testing.T) {
		checkCards(t, searched(t, ctx, searchText(base, "red running shoes")), "shoe-red")
		shoot(t, ctx, "console-search.png")
	})
	t.Run("image upload and more like this", func(t *testing.T) {
		pic := filepath.Join(t.TempDir(), "guitar.png")
		if err := os.WriteFile(pic, testImage(t, 4), 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, openSearch(base))
		checkCards(t, searched(t, ctx, chromedp.SetUploadFiles(chromedp.CSS("#q-file"), []string{pic})), "guitar")
		if media := text(t, "#q-media"); !strings.Contains(media, "image: guitar.png") {
			t.Errorf("query media shows %q", media)
		}
		for _, c := range searched(t, ctx, chromedp.Click(chromedp.CSS(`#results .result[data-id="guitar"] button.more`))) {
			if c.ID == "guitar" {
				t.Errorf("more like guitar shows guitar again")
			}
		}
		if chips := text(t, "#q-examples"); !strings.Contains(chips, "+ guitar") {
			t.Errorf("examples show %q", chips)
		}
	})
	t.Run("filters and less like this", func(t *testing.T) {
		// Kitchen products and their prices (10 + seed): mug-blue 12,
		// kettle 15, teapot 18.
		ids := func(cards []card) []string {
			var out []string
			for _, c := range cards {
				out = append(out, c.ID)
			}
			slices.Sort(out)
			return out
		}
		run(t, openSearch(base), chromedp.SetValue(chromedp.CSS("#q-text"), "ceramic"),
			chromedp.SetValue(chromedp.CSS("#q-category"), "kitchen"))
		cards := searched(t, ctx, chromedp.Click(chromedp.CSS("#q-go")))
		if got, want := ids(cards), []string{"kettle", "mug-blue", "teapot"}; !slices.Equal(got, want) {
			t.Fatalf("category kitchen: %v, want %v", got, want)
		}
		less := cards[0].ID
		got := ids(searched(t, ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#results .result[data-id=%q] button.less`, less)))))
		if len(got) != 2 || slices.Contains(got, less) {
			t.Errorf("less like %s: %v", less, got)
		}
		if chips := text(t, "#q-examples"); !strings.Contains(chips, "− "+less) {
			t.Errorf("examples show %q", chips)
		}
		var want []string
		for _, p := range []struct {
			id    string
			price int
		}{{"kettle", 15}, {"mug-blue", 12}, {"teapot", 18}} {
			if p.price >= 13 && p.id != less {
				want = append(want, p.id)
			}
		}
		got = ids(searched(t, ctx, chromedp.SetValue(chromedp.CSS("#q-pmin"), "13"), chromedp.Click(chromedp.CSS("#q-go"))))
		if !slices.Equal(got, want) {
			t.Errorf("from 13 EUR, less like %s: %v, want %v", less, got, want)
		}
	})
	t.Run("product page shows its media and plays nothing", func(t *testing.T) {
		type page struct {
			Title  string `json:"title"`
			Width  int    `json:"width"`
			Paused bool   `json:"paused"`
			Ready  int    `json:"ready"`
			Error  bool   `json:"error"`
		}
		run(t, chromedp.Navigate(base+"/#/product/chess"))
		st, err := chromedp.Run(ctx, chromedp.Poll[page](`(() => { const i = document.querySelector('#product img'), a = document.querySelector('#product audio');
				if (!i || !i.complete || !a || a.readyState < 1) return null;
				return {title: document.querySelector('#product h1').textContent, width: i.naturalWidth, paused: a.paused, ready: a.readyState, error: !!a.error}; })()`,
			chromedp.WithPollingTimeout(30*time.Second)))
		if err != nil {
			t.Fatalf("product page: %v", err)
		}
		if st.Title != "Wooden chess board with pieces" || st.Width <= 0 || !st.Paused || st.Error {
			t.Fatalf("product page: %+v", st)
		}
		similar := waitCards(t, ctx, "#similar")
		for _, c := range similar {
			if c.ID == "chess" {
				t.Errorf("similar products include the product itself: %+v", similar)
			}
		}
	})
	t.Run("pipeline", func(t *testing.T) {
		run(t, chromedp.Navigate(base+"/#/pipeline"),
			chromedp.Poll[chromedp.Void](`document.querySelectorAll('#pipe-summary .card').length === 6 && document.querySelector('#pipe-states .s-indexed') !== null`,
				chromedp.WithPollingTimeout(20*time.Second)))
		if summary := text(t, "#pipe-states"); !strings.Contains(summary, fmt.Sprintf("indexed %d", len(catalogue))) {
			t.Errorf("states show %q, want indexed %d", summary, len(catalogue))
		}
		// Freshness comes from this process's fusion (/metrics), which
		// fused every product of the catalogue (some maybe twice).
		var fused int
		cards := text(t, "#pipe-summary")
		if _, after, ok := strings.Cut(cards, "freshness p50, "); ok {
			_, _ = fmt.Sscanf(after, "%d fused", &fused)
		}
		if fused < len(catalogue) || !strings.Contains(cards, "≤ ") {
			t.Errorf("summary cards: %q", cards)
		}
		shoot(t, ctx, "console-pipeline.png")
	})
	t.Run("spaces", func(t *testing.T) {
		run(t, chromedp.Navigate(base+"/#/spaces"),
			chromedp.Poll[chromedp.Void](`document.querySelectorAll('#spaces tbody tr').length > 0 && document.querySelector('#campaign').textContent !== ''`,
				chromedp.WithPollingTimeout(20*time.Second)))
		if spaces := text(t, "#spaces"); !strings.Contains(spaces, StarterSpaceName) || !strings.Contains(spaces, "active") {
			t.Errorf("spaces table: %q", text(t, "#spaces"))
		}
	})
}
