package tenant_test

import (
	"fmt"
	"net/url"

	"github.com/imgedge/imgedge/tenant"
)

// A site owner signs image URLs on their own server with a key the edge
// knows by id. In a shell, the same signature is:
//
//	msg='/photos/cat.jpg?fit=cover&w=400'   # tenant.SigningString
//	printf '%s' "$msg" | openssl dgst -sha256 -hmac "$SECRET" -binary | basenc --base64url | tr -d =
func ExampleSignURL() {
	key := tenant.Key{ID: "2025", Secret: []byte("a new secret of thirty-two bytes")}
	signed, err := tenant.SignURL("https://img.example.com/photos/cat.jpg?w=400&fit=cover", key)
	if err != nil {
		panic(err)
	}
	fmt.Println(signed)
	// Output: https://img.example.com/photos/cat.jpg?fit=cover&w=400&s=2025.mOjbTEhrd-dwS5LzByIZ7RpIhra4diBl6QcwMdoTyz4
}

// Sign gives the s parameter alone, for code that builds its URLs itself;
// Verify is what the edge runs.
func ExampleSign() {
	key := tenant.Key{ID: "2025", Secret: []byte("a new secret of thirty-two bytes")}
	q := url.Values{"w": {"400"}, "fit": {"cover"}}
	q.Set("s", tenant.Sign(key, "/photos/cat.jpg", q))

	edge := tenant.Settings{RequireSignature: true, SigningKeys: []tenant.Key{key}}
	fmt.Println(q.Get("s"))
	fmt.Println(tenant.Verify(edge, "/photos/cat.jpg", q))
	q.Set("w", "4000")
	fmt.Println(tenant.Verify(edge, "/photos/cat.jpg", q))
	// Output:
	// 2025.mOjbTEhrd-dwS5LzByIZ7RpIhra4diBl6QcwMdoTyz4
	// <nil>
	// the URL signature does not match
}
