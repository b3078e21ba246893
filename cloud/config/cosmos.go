package config

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/zalando/go-keyring"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/cosmoscat"
)

// KeyringService is the OS keyring service under which a Cosmos DB account
// key may be kept, as user "cosmos:" followed by the account's host name.
const KeyringService = "multicloud"

// keyringTimeout bounds a keyring lookup: a Secret Service that is present
// but locked can wait for a password prompt nobody sees.
const keyringTimeout = 5 * time.Second

// openCosmos opens the Azure Cosmos DB catalogue for owner's records (the
// top-level owner setting; "" is the local user).
func openCosmos(ctx context.Context, cfg *Cosmos, owner string) (cloud.Catalogue, error) {
	const op = "cosmos settings"
	u, err := url.Parse(cfg.Endpoint)
	if cfg.Endpoint == "" || err != nil || u.Host == "" {
		return nil, cloud.Errorf(cloud.InvalidArgument, op, "catalogue.cosmos.endpoint %q is "+
			"not an account URL like https://ACCOUNT.documents.azure.com:443/", cfg.Endpoint)
	}
	o := cosmoscat.Options{
		Endpoint:  cfg.Endpoint,
		Database:  cfg.Database,
		Container: cfg.Container,
		Owner:     owner,
	}
	if cfg.Timeout != "" {
		if o.Timeout, err = time.ParseDuration(cfg.Timeout); err != nil || o.Timeout <= 0 {
			return nil, cloud.Errorf(cloud.InvalidArgument, op,
				"catalogue.cosmos.timeout %q is not a duration like \"30s\"", cfg.Timeout)
		}
	}
	if cfg.CACert != "" {
		if o.HTTPClient, err = trustingClient(cfg.CACert); err != nil {
			return nil, cloud.Wrap(cloud.InvalidArgument, op, err)
		}
	}
	switch cfg.Auth {
	case "", "key":
		if o.Key, o.CredentialName, err = accountKey(u.Hostname()); err != nil {
			return nil, cloud.Wrap(cloud.PermissionDenied, op, err)
		}
	case "entra":
		var copts azidentity.DefaultAzureCredentialOptions
		if o.HTTPClient != nil {
			copts.ClientOptions = azcore.ClientOptions{Transport: o.HTTPClient}
		}
		if o.Credential, err = azidentity.NewDefaultAzureCredential(&copts); err != nil {
			return nil, cloud.Wrap(cloud.PermissionDenied, op, err)
		}
		o.CredentialName = "the Microsoft Entra identity (az login, AZURE_CLIENT_ID and " +
			"friends, or a managed identity) and its Cosmos DB data-plane role"
	default:
		return nil, cloud.Errorf(cloud.InvalidArgument, op,
			"catalogue.cosmos.auth %q is not \"key\" or \"entra\"", cfg.Auth)
	}
	return opened[cloud.Catalogue](cosmoscat.Open(ctx, o))
}

// accountKey finds the account key for host: AZURE_COSMOS_KEY first, then the
// OS keyring. It also says where the key came from, for error messages; it
// never returns the key inside an error.
func accountKey(host string) (cosmoscat.Key, string, error) {
	if k := strings.TrimSpace(os.Getenv(cosmoscat.KeyEnv)); k != "" {
		return cosmoscat.Key(k), "the account key in " + cosmoscat.KeyEnv, nil
	}
	user := "cosmos:" + host
	where := fmt.Sprintf("the keyring (service %q, user %q)", KeyringService, user)
	type result struct {
		key string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		k, err := keyring.Get(KeyringService, user)
		ch <- result{k, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-time.After(keyringTimeout):
		r.err = errors.New("the keyring did not answer")
	}
	if k := strings.TrimSpace(r.key); r.err == nil && k != "" {
		return cosmoscat.Key(k), "the account key in " + where, nil
	}
	if r.err != nil && !errors.Is(r.err, keyring.ErrNotFound) {
		slog.Debug("no cosmos db key from the keyring", "service", KeyringService, "user", user,
			"err", r.err)
	}
	return "", "", fmt.Errorf("no Cosmos DB account key: set %s, store the key in %s, or set "+
		"catalogue.cosmos.auth = \"entra\"", cosmoscat.KeyEnv, where)
}

// trustingClient is an HTTP client that trusts the certificate authorities
// in the PEM file path as well as the system's. Verification stays on: this
// is how a local server with its own certificate is reached.
func trustingClient(path string) (*http.Client, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("catalogue.cosmos.ca_cert: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("catalogue.cosmos.ca_cert: %s holds no PEM certificate", path)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}, nil
}
