package tenant

import (
	"errors"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/imgedge/imgedge/transform"
)

func TestImgixSignatures(t *testing.T) {
	s := Settings{RequireSignature: true, ImgixToken: "tok"}
	verify := func(path, rawQuery string) error {
		if _, err := url.ParseQuery(rawQuery); err != nil {
			t.Fatal(err)
		}
		return VerifyRequest(s, readRequest(path, rawQuery))
	}
	sig := SignImgix("tok", "/a.jpg", "w=320&ar=16%3A9")
	if err := verify("/a.jpg", "w=320&ar=16%3A9&s="+sig); err != nil {
		t.Errorf("a URL signed with the token: %v", err)
	}
	if err := verify("/a.jpg", "s="+sig+"&w=320&ar=16%3A9"); err != nil {
		t.Errorf("with s first: %v", err)
	}
	for _, tt := range []struct{ name, path, query string }{
		{"another order", "/a.jpg", "ar=16%3A9&w=320&s=" + sig}, // imgix signs the query as spelt
		{"a parameter added", "/a.jpg", "w=320&ar=16%3A9&q=10&s=" + sig},
		{"another path", "/b.jpg", "w=320&ar=16%3A9&s=" + sig},
		{"another spelling", "/a.jpg", "w=320&ar=16:9&s=" + sig},
		{"not hex", "/a.jpg", "w=320&s=zz" + sig[2:]},
	} {
		if err := verify(tt.path, tt.query); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", tt.name, err)
		}
	}
	if err := verify("/a.jpg", "w=320"); !errors.Is(err, ErrMissingSignature) {
		t.Errorf("unsigned: %v", err)
	}
	past := strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)
	if err := verify("/a.jpg", "expires="+past+"&s="+SignImgix("tok", "/a.jpg", "expires="+past)); !errors.Is(err, ErrExpired) {
		t.Errorf("an expired imgix URL: %v", err)
	}
	// The tenant's own HMAC keys keep working beside the token.
	s.SigningKeys = []Key{{ID: "k1", Secret: []byte("0123456789abcdef")}}
	q := url.Values{"w": {"10"}}
	q.Set("s", Sign(s.SigningKeys[0], "/a.jpg", q))
	if err := VerifyRequest(s, readRequest("/a.jpg", q.Encode())); err != nil {
		t.Errorf("an HMAC signature beside an imgix token: %v", err)
	}
}

// A pair url.ParseQuery drops would reach the route without being signed:
// such a query is refused, whatever the signature, HMAC or imgix.
func TestVerifyRequestRefusesPairsTheSignatureCannotCover(t *testing.T) {
	key := Key{ID: "k1", Secret: []byte("0123456789abcdef")}
	s := Settings{RequireSignature: true, SigningKeys: []Key{key}, ImgixToken: "tok"}
	q := url.Values{"id": {"7"}}
	q.Set("s", Sign(key, "/api/item", q))
	hmacQuery := q.Encode()
	imgixQuery := "id=7&s=" + SignImgix("tok", "/api/item", "id=7")
	for _, signed := range []string{hmacQuery, imgixQuery} {
		if err := VerifyRequest(s, readRequest("/api/item", signed)); err != nil {
			t.Fatalf("the signed query %q: %v", signed, err)
		}
		for _, extra := range []string{"&x;role=admin", "&id=8%zz", "&%zz=8", ";role=admin", "&role=admin;"} {
			raw := signed + extra
			// A signature would be checked on the signed pairs alone.
			if err := VerifyRequest(s, readRequest("/api/item", raw)); !errors.Is(err, ErrUnsignableQuery) {
				t.Errorf("%q: %v, want ErrUnsignableQuery", raw, err)
			}
		}
	}
	if err := VerifyRequest(Settings{}, readRequest("/api/item", "x;role=admin")); err != nil {
		t.Errorf("a tenant that does not sign: %v, want nil (not its concern)", err)
	}
}

// readRequest is a request for path (as a URL spells it) with rawQuery,
// read as the handler reads one.
func readRequest(path, rawQuery string) *transform.Request {
	u := &url.URL{Path: path, RawPath: path, RawQuery: rawQuery}
	if p, err := url.PathUnescape(path); err == nil {
		u.Path = p
	}
	return transform.ReadRequest(u, u)
}
