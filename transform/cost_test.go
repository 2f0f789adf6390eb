package transform

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func TestCheckCost(t *testing.T) {
	tests := []struct {
		name   string
		opts   Options
		w, h   int
		frames int
		param  string // "" when accepted
	}{
		{"no effects cost nothing", Options{}, 8000, 8000, 1, ""},
		{"a small blur on a large output is accepted", Options{Blur: 5}, 2000, 1250, 1, ""},
		{"blur 10 on a 10 MP output is refused", Options{Blur: 10}, 4000, 3000, 1, "blur"},
		{"a wide blur runs at reduced scale and is accepted", Options{Blur: 250}, 2000, 1250, 1, ""},
		{"sharpening at sigma 10 on 16 MP is refused", Options{Sharpen: 10}, 4096, 4096, 1, "sharpen"},
		{"sharpening of a thumbnail is accepted", Options{Sharpen: 10}, 400, 300, 1, ""},
		{"sharpening every frame of a long animation is priced per frame", Options{Sharpen: 10}, 400, 300, 500, "sharpen"},
		{"a wide blur on a thin output runs at a wide sigma and is priced so", Options{Blur: 250}, 16000, 2, 1, "blur"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckCost(tt.opts, tt.w, tt.h, tt.frames)
			var pe *Error
			switch {
			case tt.param == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.param != "" && (!errors.As(err, &pe) || pe.Param != tt.param):
				t.Fatalf("got %v, want a refusal naming %s", err, tt.param)
			}
		})
	}
}

// Whatever is accepted fits the budget as it will run, and the largest
// sigma the refusal names is itself accepted.
func TestCheckCostProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		w, h := 1+r.IntN(8192), 1+r.IntN(8192)
		o := Options{Blur: r.Float64() * 250, Sharpen: r.Float64() * 10}
		err := CheckCost(o, w, h, 1)
		area := float64(w) * float64(h)
		eff, shrink := EffectiveBlur(o.Blur, w, h)
		blurCost := area / (shrink * shrink) * eff * eff
		sharpCost := area * o.Sharpen * o.Sharpen
		if err == nil && (blurCost > MaxEffectCost || sharpCost > MaxEffectCost) {
			t.Fatalf("accepted %+v on %dx%d: blur cost %.3g, sharpen cost %.3g", o, w, h, blurCost, sharpCost)
		}
		if err != nil && blurCost <= MaxEffectCost && sharpCost <= MaxEffectCost {
			t.Fatalf("refused %+v on %dx%d within budget: %v", o, w, h, err)
		}
		if s := maxSigma(area); s > 0 && CheckCost(Options{Sharpen: min(s, 10)}, w, h, 1) != nil {
			t.Fatalf("the advertised maximum %v is refused on %dx%d", s, w, h)
		}
	}
}

func TestPlanOutputSize(t *testing.T) {
	lim := Limits{MaxWidth: 4096, MaxHeight: 4096, MaxDPR: 3}
	tests := []struct {
		name       string
		opts       Options
		srcW, srcH int
		w, h       int
	}{
		{"width only keeps the aspect ratio", Options{Width: 400}, 2000, 1000, 400, 200},
		{"no size is bounded by the limits and never enlarges", Options{}, 2000, 1000, 2000, 1000},
		{"cover crops to the box", Options{Width: 300, Height: 300, Fit: FitCover}, 2000, 1000, 300, 300},
		{"pad fills the canvas", Options{Width: 500, Height: 100, Fit: FitPad}, 2000, 1000, 500, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, h := NewPlan(tt.opts, tt.srcW, tt.srcH, lim).OutputSize(tt.srcW, tt.srcH)
			if w != tt.w || h != tt.h {
				t.Fatalf("OutputSize = %dx%d, want %dx%d", w, h, tt.w, tt.h)
			}
		})
	}
}
