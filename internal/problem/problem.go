// Package problem writes imgedge's refusals: every one is a small JSON
// body, {"error": "...", "param": "w", "status": 400}, written here and
// nowhere else.
package problem

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/imgedge/imgedge/transform"
)

// body is the JSON body of every refusal.
type body struct {
	Error  string `json:"error"`
	Param  string `json:"param,omitempty"`
	Status int    `json:"status"`
}

// Write answers with status and a small JSON body. Refusals are never
// cached as images.
func Write(w http.ResponseWriter, status int, msg, param string) {
	b, _ := json.Marshal(body{Error: msg, Param: param, Status: status})
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("ETag")
	h.Del("Vary")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// Of is the message and the parameter named by a refused parameter's
// error (a *transform.Error), or the error's text and no parameter.
func Of(err error) (msg, param string) {
	var pe *transform.Error
	if errors.As(err, &pe) {
		return pe.Msg, pe.Param
	}
	return err.Error(), ""
}
