package imgedge

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// problem is the JSON body of every refusal: {"error": "...", "param": "w"}.
type problem struct {
	Error  string `json:"error"`
	Param  string `json:"param,omitempty"`
	Status int    `json:"status"`
}

// writeProblem answers with status and a small JSON body. Refusals are
// never cached as images.
func writeProblem(w http.ResponseWriter, status int, msg, param string) {
	body, _ := json.Marshal(problem{Error: msg, Param: param, Status: status})
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("ETag")
	h.Del("Vary")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
