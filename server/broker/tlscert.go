package broker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"time"

	"robustmq/server/config"
)

// serverCertificate loads broker_network.tls_cert/tls_key. The embedded defaults point at the test pair
// shipped in config/certs, which exists only when the node runs from a checkout; so that `robustmq` with
// no config starts from any directory, a missing file at exactly the default path falls back to an
// ephemeral self-signed certificate, with a warning. A path the operator set that cannot be loaded is
// always an error: the operator asked for that certificate.
func serverCertificate(nw config.BrokerNetworkConfig, advertise string, log *slog.Logger) (tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(nw.TLSCert, nw.TLSKey)
	if err == nil {
		return cert, nil
	}
	def := config.Default().BrokerNetwork
	if !errors.Is(err, fs.ErrNotExist) || nw.TLSCert != def.TLSCert || nw.TLSKey != def.TLSKey {
		return tls.Certificate{}, fmt.Errorf("broker_network.tls_cert/tls_key: %w", err)
	}
	log.Warn("broker: default TLS certificate files not found; using an ephemeral self-signed certificate (set broker_network.tls_cert/tls_key)",
		"tls_cert", nw.TLSCert, "tls_key", nw.TLSKey)
	return selfSigned(advertise)
}

// selfSigned makes a P-256 certificate valid for a day for localhost, 127.0.0.1, ::1 and host.
func selfSigned(host string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("broker: self-signed certificate: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: "robustmq ephemeral"},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if ip := net.ParseIP(host); ip != nil && !ip.IsLoopback() {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	} else if host != "" && ip == nil {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("broker: self-signed certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// clientAuth applies mqtt_runtime.server.tls_client_verify and tls_client_ca to a listener's TLS config:
// none leaves it as is; request verifies a certificate the client offers against the CA and accepts a
// client without one; require refuses a client without a certificate the CA signed. REQUIRES: the
// config passed Validate (a known mode, a CA unless none).
func clientAuth(tc *tls.Config, sv config.MQTTServerConfig) error {
	if sv.TLSClientVerify == "none" || sv.TLSClientVerify == "" {
		return nil
	}
	pem, err := os.ReadFile(sv.TLSClientCA)
	if err != nil {
		return fmt.Errorf("mqtt_runtime.server.tls_client_ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("mqtt_runtime.server.tls_client_ca: %s holds no PEM certificate", sv.TLSClientCA)
	}
	tc.ClientCAs = pool
	tc.ClientAuth = tls.VerifyClientCertIfGiven
	if sv.TLSClientVerify == "require" {
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return nil
}
