package transform

import (
	"errors"
	"net/url"
	"testing"
)

func TestFaceParametersOutOfRangeAreRefusedByName(t *testing.T) {
	tests := map[string]string{
		"w=120&h=120&fit=facearea&facepad=0":             "facepad",
		"w=120&h=120&fit=facearea&facepad=11":            "facepad",
		"w=120&h=120&fit=facearea&facepad=x":             "facepad",
		"w=120&h=120&fit=facearea&faceindex=0":           "faceindex",
		"w=120&h=120&fit=facearea&faceindex=101":         "faceindex",
		"w=120&fit=facearea":                             "fit",
		"w=120&h=120&facepad=1.2":                        "facepad",
		"w=120&h=120&fit=crop&faceindex=1":               "faceindex",
		"w=120&h=120&fit=cover&zoom=0.5":                 "zoom",
		"w=120&h=120&fit=cover&gravity=face&zoom=1.5":    "zoom",
		"fm=json&faces=yes":                              "faces",
		"w=120&h=120&fit=crop&crop=faces&rect=0,0,10,10": "rect",
		"w=120&h=120&fit=facearea&fp-z=2":                "fp-z",
	}
	for q, param := range tests {
		t.Run(q, func(t *testing.T) { wantRefusal(t, q, param) })
	}
}

// wantRefusal fails t unless Parse refuses query naming param.
func wantRefusal(t *testing.T, query, param string) {
	t.Helper()
	vals, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse(vals, DefaultLimits)
	var pe *Error
	if !errors.As(err, &pe) || pe.Param != param {
		t.Fatalf("Parse(%.60q) = %v, want a refusal naming %s", query, err, param)
	}
}

func TestFaceWindowHoldsThePaddedFaceInTheOutputsShape(t *testing.T) {
	face := Rect{X: 200, Y: 100, W: 100, H: 120}
	tests := []struct {
		name       string
		pad, zoom  float64
		outW, outH int
		want       Rect
	}{
		{"facearea: the face padded by 1.2, square", 1.2, 1, 120, 120, Rect{178, 88, 144, 144}},
		{"facearea: the face, wide", 1, 1, 200, 100, Rect{130, 100, 240, 120}},
		{"crop=faces: the largest square, centred on the face as far as the source allows", 0, 0, 100, 100, Rect{0, 0, 600, 600}},
		{"zoom 0.5: half way", 1, 0.5, 100, 100, Rect{70, 0, 360, 360}},
		{"a pad past the source is kept inside it", 10, 1, 100, 100, Rect{0, 0, 600, 600}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FaceWindow(face, tt.pad, tt.zoom, tt.outW, tt.outH, 800, 600)
			if got != tt.want {
				t.Fatalf("FaceWindow = %+v, want %+v", got, tt.want)
			}
		})
	}
}
