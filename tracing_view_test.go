package imgedge_test

import (
	"fmt"
	"html"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/imgedge/imgedge/internal/testenv"
)

// screenshotTrace draws a trace read back from Jaeger as a waterfall (the
// span tree, each span a bar on the trace's time line) in the real
// browser and saves it as test-artifacts/name: what an operator sees of
// one request in a trace viewer.
func screenshotTrace(t *testing.T, tr spanTree, title, name string) {
	t.Helper()
	if len(tr) == 0 {
		t.Fatal("no spans to draw")
	}
	begin, end := tr[0].Start, tr[0].Start.Add(tr[0].Duration)
	for _, s := range tr {
		if s.Start.Before(begin) {
			begin = s.Start
		}
		if e := s.Start.Add(s.Duration); e.After(end) {
			end = e
		}
	}
	total := max(end.Sub(begin), time.Microsecond)
	var rows strings.Builder
	colours := map[string]string{}
	palette := []string{"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948"}
	tr.walk(func(s testenv.Span, depth int) {
		c, ok := colours[s.Service]
		if !ok {
			c = palette[len(colours)%len(palette)]
			colours[s.Service] = c
		}
		left := 100 * float64(s.Start.Sub(begin)) / float64(total)
		width := max(100*float64(s.Duration)/float64(total), 0.3)
		fmt.Fprintf(&rows, `<tr><td style="padding-left:%dpx"><b style="color:%s">%s</b> %s</td><td class="d">%s</td>`+
			`<td class="bar"><div style="margin-left:%.2f%%;width:%.2f%%;background:%s"></div></td></tr>`,
			8+16*depth, c, html.EscapeString(s.Service), html.EscapeString(s.Name), s.Duration.Round(time.Microsecond), left, width, c)
	})
	page := `<!doctype html><meta charset="utf-8"><style>
body{font:13px system-ui,sans-serif;margin:16px;color:#222}
table{border-collapse:collapse;width:1200px}td{padding:3px 6px;border-bottom:1px solid #eee;white-space:nowrap}
td.d{text-align:right;color:#666;width:80px}td.bar{width:620px}td.bar div{height:12px;border-radius:2px}
</style><h3>` + html.EscapeString(title) + `</h3><p>trace ` + tr[0].TraceID + `, ` + total.Round(time.Microsecond).String() +
		`, read back from Jaeger's query API</p><table>` + rows.String() + `</table>`
	ctx := browser(t)
	var shot []byte
	var drawn int
	if err := chromedp.Run(ctx,
		chromedp.Navigate("data:text/html;charset=utf-8,"+url.PathEscape(page)),
		chromedp.Evaluate(`document.querySelectorAll("td.bar div").length`, &drawn),
		chromedp.FullScreenshot(&shot, 85),
	); err != nil {
		t.Fatal(err)
	}
	if drawn != len(tr) {
		t.Errorf("the waterfall drew %d of %d spans", drawn, len(tr))
	}
	artefact(t, name, shot)
}
