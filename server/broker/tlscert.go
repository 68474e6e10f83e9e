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
