package mqtt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"robustmq/netpoll"
)

// selfSigned returns a self-signed certificate for 127.0.0.1 and a pool
// trusting it.
func selfSigned(t *testing.T, cn string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, BasicConstraintsValid: true, IsCA: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// TestTransports runs a QoS 1 round trip with paho.mqtt.golang over TLS,
// WebSocket (/mqtt, subprotocol mqtt) and WSS, publishing over plain TCP,
// and checks client certificate verification on TLS.
func TestTransports(t *testing.T) {
	ts := start(t, nil)
	srvCert, srvPool := selfSigned(t, "server")
	cliCert, cliPool := selfSigned(t, "client")
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{srvCert}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: cliPool, MinVersion: tls.VersionTLS12}
	plain := &tls.Config{Certificates: []tls.Certificate{srvCert}, MinVersion: tls.VersionTLS12}
	urls := map[string]string{
		"tls": "ssl://" + ts.listen(t, netpoll.TLS, tlsCfg).Addr().String(),
		"ws":  "ws://" + ts.listen(t, netpoll.WS, nil).Addr().String() + "/mqtt",
		"wss": "wss://" + ts.listen(t, netpoll.WSS, plain).Addr().String() + "/mqtt",
	}
	client := &tls.Config{RootCAs: srvPool, Certificates: []tls.Certificate{cliCert}, ServerName: "127.0.0.1"}
	pub := client3(t, "tcp://"+ts.addr, "tpub", nil)
	for _, name := range []string{"tls", "ws", "wss"} {
		t.Run(name, func(t *testing.T) {
			got := make(recv3, 2)
			sub := client3(t, urls[name], "tsub-"+name, func(o *paho.ClientOptions) { o.SetTLSConfig(client) })
			wait3(t, "subscribe", sub.Subscribe("tr/"+name, 1, got.handler))
			wait3(t, "publish", pub.Publish("tr/"+name, 1, false, name))
			got.expect(t, "tr/"+name, name, 1, false)
		})
	}
	t.Run("tls without client certificate", func(t *testing.T) {
		o := paho.NewClientOptions().AddBroker(urls["tls"]).SetClientID("nocert").SetAutoReconnect(false).
			SetConnectTimeout(3 * time.Second).SetTLSConfig(&tls.Config{RootCAs: srvPool, ServerName: "127.0.0.1"})
		c := paho.NewClient(o)
		if tok := c.Connect(); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
			c.Disconnect(0)
			t.Fatal("connected without a client certificate")
		}
	})
}
