package main

import (
	"fmt"
	"sync/atomic"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/imgedge/imgedge/imaging"
)

// portraitJPG is scikit-image's astronaut portrait (python3-skimage, which
// `make deps` installs) enlarged to 2048x2048, the source of the faces
// scenario.
const portraitJPG = "portrait.jpg"

const skimagePortrait = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png"

func init() {
	corpusSteps = append(corpusSteps, corpusStep{portraitJPG, "scikit-image's astronaut portrait enlarged to 2048x2048, JPEG q=90",
		func(string) ([]byte, error) {
			return convert(skimagePortrait, "w=2048&h=2048&fit=scale&fm=jpg&q=90", imaging.DefaultConfig())
		}})
}

// facesScenario prices face detection, 120x120 avatars of the portrait at
// distinct sizes: with the cache off every request fetches the original
// and finds its faces again (the cost a source pays once); with the
// originals kept, the faces are kept with them and a new variant only
// crops (what every later variant pays). The reference is a centre crop
// of the same sizes, cache off.
// avatarSizes numbers the avatars asked for, so no size comes twice.
var avatarSizes atomic.Uint64

func facesScenario(s *server, c int) scenario {
	const centre = "centre crop, cache off"
	// Distinct sizes, never repeated within a run. With fresh, a bench=
	// parameter names a new original each time, so no two requests share
	// one (nor its faces); without, they all share the kept one.
	avatars := func(base, fit string, fresh bool) func(uint64) vegeta.Target {
		return func(uint64) vegeta.Target {
			i := avatarSizes.Add(1) // across the slices and the warm-up of every run
			u := fmt.Sprintf("%s/%s?w=%d&h=%d&fit=%s", base, portraitJPG, 100+i%400, 100+i/400%400, fit)
			if fresh {
				u += fmt.Sprintf("&bench=%d", i)
			}
			return vegeta.Target{Method: "GET", URL: u}
		}
	}
	return scenario{ID: "13", Name: "faces: fit=facearea avatars of a 2048x2048 portrait, distinct sizes", Alternate: 4, Runs: []runSpec{
		{Name: centre, Workers: c, About: "/" + portraitJPG + "?w=W&h=H&fit=crop, W and H 100..499, never repeated", group: "faces",
			target: avatars(s.miss, "crop", true), expect: "miss"},
		{Name: "facearea, cache off (faces found every request)", Ref: centre, Workers: c, group: "faces",
			About: "/" + portraitJPG + "?w=W&h=H&fit=facearea", target: avatars(s.miss, "facearea", true), expect: "miss"},
		{Name: "facearea, original and its faces kept", Ref: centre, Workers: c, group: "faces",
			About: "the same on the cached site: each request a new variant of a kept original", target: avatars(s.hit, "facearea", false), expect: "miss"},
	}}
}
