// Package tlsconf builds the TLS configurations of `flakeresolve serve`
// and of the command line's --server from PEM files, in one place, so the
// two ends agree on versions and on what a client certificate proves.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"

	"github.com/flakeresolve/flakeresolve/internal/boundedfile"
)

// maxPEM bounds a certificate or key file.
const maxPEM = 1 << 20

// Server is the configuration of a server with the certificate and key in
// certFile and keyFile. With clientCAFile, the server requires every
// client to present a certificate that CA signed (mutual TLS), whose
// subject then names the caller.
func Server(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := keyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCAFile != "" {
		if c.ClientCAs, err = pool(clientCAFile); err != nil {
			return nil, err
		}
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// Client is the configuration of a client that trusts the servers caFile
// signed, presenting the certificate in certFile (with keyFile) when one
// is given.
func Client(caFile, certFile, keyFile string) (*tls.Config, error) {
	roots, err := pool(caFile)
	if err != nil {
		return nil, err
	}
	c := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if certFile != "" || keyFile != "" {
		cert, err := keyPair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

func keyPair(certFile, keyFile string) (tls.Certificate, error) {
	if certFile == "" || keyFile == "" {
		return tls.Certificate{}, fmt.Errorf("a certificate needs both its file and its key's (got %q and %q)", certFile, keyFile)
	}
	certPEM, err := boundedfile.Read(certFile, maxPEM)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := boundedfile.Read(keyFile, maxPEM)
	if err != nil {
		return tls.Certificate{}, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s with %s: %w", certFile, keyFile, err)
	}
	return cert, nil
}

func pool(file string) (*x509.CertPool, error) {
	data, err := boundedfile.Read(file, maxPEM)
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", file)
	}
	return p, nil
}
