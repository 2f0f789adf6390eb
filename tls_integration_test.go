package imgedge_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imgedge/imgedge/internal/testenv"
)

// peerPKI writes a CA and a certificate it signs for 127.0.0.1 into dir:
// ca.pem, cert.pem and key.pem.
func peerPKI(t *testing.T, dir string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "imgedge test nodes CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, block := range map[string]*pem.Block{
		"ca.pem":   {Type: "CERTIFICATE", Bytes: caDER},
		"cert.pem": {Type: "CERTIFICATE", Bytes: leafDER},
		"key.pem":  {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// tlsNode starts a node of zone a that serves clients on plain HTTP and
// its peers on https://127.0.0.1:<its TLS port>, which it advertises.
// peerCA, when set, is the CA bundle it checks its peers' certificates
// with.
func tlsNode(t *testing.T, consul *testenv.Consul, name, origin, pki, peerCA string) *testenv.Caddy {
	t.Helper()
	tlsPort := testenv.FreePort(t)
	caLine := ""
	if peerCA != "" {
		caLine = "peer_ca " + peerCA
	}
	site := fmt.Sprintf("\timage_resize\n\treverse_proxy %s\n", strings.TrimPrefix(origin, "http://"))
	return testenv.Start(t, fmt.Sprintf(`{
	admin {{ADMIN}}
	auto_https disable_redirects
	imgedge {
		zone a
		node %s
		consul %s
		advertise https://127.0.0.1:%d
		secret test-cluster-secret-0123456789abcdef
		%s
	}
}
http://:{{PORT}} {
	bind 127.0.0.1
%s}
https://127.0.0.1:%d {
	bind 127.0.0.1
	tls %s %s
%s}
`, name, consul.Addr, tlsPort, caLine, site, tlsPort, filepath.Join(pki, "cert.pem"), filepath.Join(pki, "key.pem"), site))
}

func TestNodesThatAdvertiseHTTPSTalkTLSToEachOther(t *testing.T) {
	consul := testenv.StartConsul(t)
	origin := newVersionedOrigin(t)
	pki := t.TempDir()
	peerPKI(t, pki)
	ca := filepath.Join(pki, "ca.pem")
	a1 := tlsNode(t, consul, "a1", origin.URL, pki, ca)
	a2 := tlsNode(t, consul, "a2", origin.URL, pki, ca)
	nodes := []*testenv.Caddy{a1, a2}
	for _, n := range nodes {
		waitForZonePeers(t, n, "a", 1)
	}

	// Every source has one owner: asked of both nodes, each source is
	// relayed by one of them from the other, over TLS. (The owner answers
	// its peers from the https site and its clients from the http one: two
	// sites, two caches.)
	relayed := 0
	for i := range 6 {
		src := fmt.Sprintf("/p%d.jpg", i)
		for _, n := range nodes {
			a := get(t, n.Base+src+"?w=300")
			if a.status != 200 || decode(t, a.body).width != 300 {
				t.Fatalf("%s: %d %s", src, a.status, a.body)
			}
			if strings.Contains(a.header.Get("Cache-Status"), "detail=peer") {
				relayed++
			}
		}
	}
	if relayed != 6 {
		t.Errorf("%d of 6 sources were relayed from their owner, want each once", relayed)
	}
	if failed := sumMetric(t, nodes, `imgedge_peer_requests_total{result="failed"}`); failed != 0 {
		t.Errorf("%v peer requests failed", failed)
	}

	t.Run("a node that does not trust the peers' CA asks none of them", func(t *testing.T) {
		a3 := tlsNode(t, consul, "a3", origin.URL, pki, "") // the system's roots
		waitForZonePeers(t, a3, "a", 2)
		for i := range 6 {
			if a := get(t, fmt.Sprintf("%s/q%d.jpg?w=200", a3.Base, i)); a.status != 200 || strings.Contains(a.header.Get("Cache-Status"), "detail=peer") {
				t.Errorf("q%d on a3: %d, Cache-Status %q: want a3's own answer", i, a.status, a.header.Get("Cache-Status"))
			}
		}
		if failed := metric(t, a3, `imgedge_peer_requests_total{result="failed"}`); failed == 0 {
			t.Error("a3 asked no peer, or its peers' certificates were accepted without the CA")
		}
		if ok := metric(t, a3, `imgedge_peer_requests_total{result="miss"}`) + metric(t, a3, `imgedge_peer_requests_total{result="hit"}`); ok != 0 {
			t.Errorf("%v answers came from peers whose certificate a3 cannot verify", ok)
		}
	})
}
