package broker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"robustmq/server/config"
	"robustmq/server/node/component"
	"robustmq/server/node/listener"
)

// testCA is a throwaway certificate authority.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// client issues a client certificate signed by ca.
func (ca *testCA) client(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestTLSClientVerify starts the broker's TLS and WSS listeners with each
// tls_client_verify mode and connects paho clients without a certificate,
// with one the configured CA signed, and with one another CA signed.
func TestTLSClientVerify(t *testing.T) {
	ca, other := newCA(t, "robustmq test CA"), newCA(t, "someone else")
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	certs := map[string]tls.Certificate{"none": {}, "ours": ca.client(t, "dev1"), "foreign": other.client(t, "dev2")}
	for _, c := range []struct {
		mode    string
		accepts string // the certificates accepted, in order none, ours, foreign: y or n
	}{
		{"none", "yyy"},
		{"request", "yyn"},
		{"require", "nyn"},
	} {
		t.Run(c.mode, func(t *testing.T) {
			cfg := config.Default()
			cfg.BindIP = "127.0.0.1"
			s := &cfg.MQTTRuntime.Server
			s.TCPPort, s.TLSPort, s.WebsocketPort, s.WebsocketsPort = 0, freePort(t), 0, freePort(t)
			s.TLSClientVerify, s.TLSClientCA = c.mode, caFile
			cfg.KafkaRuntime.TCPPort = 0
			cfg.BrokerNetwork.TLSCert, cfg.BrokerNetwork.TLSKey = "../../config/certs/cert.pem", "../../config/certs/key.pem"
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			startBroker(t, cfg, routes{})
			for _, url := range []string{"ssl://127.0.0.1:" + itoa(s.TLSPort), "wss://127.0.0.1:" + itoa(s.WebsocketsPort) + "/mqtt"} {
				for i, name := range []string{"none", "ours", "foreign"} {
					// GetClientCertificate sends the certificate even when the server's list of
					// acceptable CAs does not name its issuer (Certificates would send none).
					cert := certs[name]
					tc := &tls.Config{InsecureSkipVerify: true,
						GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }}
					o := paho.NewClientOptions().AddBroker(url).SetClientID("tls-" + name).SetAutoReconnect(false).
						SetConnectTimeout(5 * time.Second).SetTLSConfig(tc)
					cl := paho.NewClient(o)
					tok := cl.Connect()
					if !tok.WaitTimeout(10 * time.Second) {
						t.Fatalf("%s, %s certificate: connect timed out", url, name)
					}
					if got, want := tok.Error() == nil, c.accepts[i] == 'y'; got != want {
						t.Errorf("%s, %s certificate: connected %v (%v); want %v", url, name, got, tok.Error(), want)
					}
					cl.Disconnect(0)
				}
			}
		})
	}
}

// A CA file that is missing or holds no certificate fails Start, naming
// the key.
func TestTLSClientCABad(t *testing.T) {
	junk := filepath.Join(t.TempDir(), "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{junk, filepath.Join(t.TempDir(), "missing.pem")} {
		cfg := config.Default()
		cfg.BindIP = "127.0.0.1"
		s := &cfg.MQTTRuntime.Server
		s.TCPPort, s.TLSPort, s.WebsocketPort, s.WebsocketsPort = 0, freePort(t), 0, 0
		s.TLSClientVerify, s.TLSClientCA = "require", file
		cfg.KafkaRuntime.TCPPort = 0
		cfg.BrokerNetwork.TLSCert, cfg.BrokerNetwork.TLSKey = "../../config/certs/cert.pem", "../../config/certs/key.pem"
		b, err := NewWith(component.Env{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Listeners: &listener.Registry{}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "mqtt_runtime.server.tls_client_ca") {
			t.Errorf("Start with tls_client_ca %s: %v; want an error naming mqtt_runtime.server.tls_client_ca", file, err)
		}
	}
}
