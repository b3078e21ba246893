// Package localclouds starts the local stand-ins for the clouds that the
// end-to-end tests and `make demo-clouds` use: s3rver for S3 and
// @zeit/cosmosdb-server for Cosmos DB, each a separate process on 127.0.0.1.
// (The Vision stand-in is Multi-Cloud's own server, cloud/visionserver.)
package localclouds

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
	"os/exec"
	"path/filepath"
	"time"

	"github.com/multicloud/multicloud/internal/emulator"
)

// S3Key is the only access key id (and secret) s3rver accepts.
const S3Key = "S3RVER"

// S3rver starts s3rver keeping its objects under dir. Its endpoint is
// "http://" + the server's Addr.
func S3rver(dir string) (*emulator.Server, error) {
	bin, err := emulator.NodeBinPath("s3rver")
	if err != nil {
		return nil, err
	}
	return emulator.Launch(emulator.Spec{
		Name: "s3rver",
		Path: bin,
		Args: []string{"--address", "127.0.0.1", "--port", "{port}", "--silent",
			"--directory", dir},
		// Node 20's OpenSSL 3 lacks the MD4 that s3rver's paged listings use.
		Env: []string{"NODE_OPTIONS=--openssl-legacy-provider"},
	})
}

// Cosmos starts @zeit/cosmosdb-server with a certificate for 127.0.0.1 made in
// dir by a certificate authority of its own, whose PEM file it returns: a
// client trusts exactly that authority, and verifies TLS as it would against
// Azure. (The server's bundled certificate expired in 2021, and its command
// line takes no other, so it is started through its JavaScript API by
// cosmosdb-server.js beside this file.) Its endpoint is "https://" + Addr + "/".
func Cosmos(dir string) (srv *emulator.Server, caFile string, err error) {
	bin, err := emulator.NodeBinPath("cosmosdb-server")
	if err != nil {
		return nil, "", err
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, "", fmt.Errorf("node is not installed")
	}
	_, caFile, certFile, keyFile, err := MakeCerts(dir)
	if err != nil {
		return nil, "", err
	}
	script := filepath.Join(emulator.Root(), "internal", "localclouds", "cosmosdb-server.js")
	srv, err = emulator.Launch(emulator.Spec{
		Name: "cosmosdb-server",
		Path: node,
		Args: []string{script, "{port}"},
		Env: []string{
			// .bin/cosmosdb-server sits in node_modules/.bin.
			"COSMOS_MODULES=" + filepath.Dir(filepath.Dir(bin)),
			"COSMOS_CERT=" + certFile,
			"COSMOS_KEY=" + keyFile,
		},
	})
	return srv, caFile, err
}

// MakeCerts writes a certificate authority and a server certificate for
// 127.0.0.1 signed by it into dir, valid for a day.
func MakeCerts(dir string) (ca *x509.Certificate, caFile, certFile, keyFile string, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", "", "", err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "multicloud local test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, "", "", "", err
	}
	if ca, err = x509.ParseCertificate(caDER); err != nil {
		return nil, "", "", "", err
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", "", "", err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		return nil, "", "", "", err
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		return nil, "", "", "", err
	}
	write := func(name, kind string, der []byte) string {
		p := filepath.Join(dir, name)
		if werr := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}),
			0o600); werr != nil && err == nil {
			err = werr
		}
		return p
	}
	caFile = write("ca.pem", "CERTIFICATE", caDER)
	certFile = write("server.pem", "CERTIFICATE", srvDER)
	keyFile = write("server-key.pem", "EC PRIVATE KEY", keyDER)
	return ca, caFile, certFile, keyFile, err
}
