package dashboard

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestServe(t *testing.T) {
	tests := []struct {
		method, path string
		served       bool
		body         string // a part of the answer
	}{
		{"GET", "/usage/", true, "<html"},
		{"HEAD", "/usage/", true, ""},
		{"GET", "/usage/dashboard.js", true, "fetch("},
		{"GET", "/usage/vendor/uplot/uPlot.min.css", true, ".uplot"},
		{"POST", "/usage/", false, ""},
		{"GET", "/usage/api/v1/usage", false, ""},
		{"GET", "/usage/index.html.bak", false, ""},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		served := Serve(w, httptest.NewRequest(tt.method, tt.path, nil))
		if served != tt.served {
			t.Errorf("%s %s: served %v, want %v", tt.method, tt.path, served, tt.served)
			continue
		}
		if served && (w.Code != http.StatusOK || !strings.Contains(w.Body.String(), tt.body)) {
			t.Errorf("%s %s: %d, body without %q", tt.method, tt.path, w.Code, tt.body)
		}
	}
}
