package localclouds

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net"
	"path/filepath"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/config"
	"github.com/multicloud/multicloud/cloud/visionserver"
)

// Clouds are the three local stand-ins, running.
type Clouds struct {
	S3Endpoint     string // http://127.0.0.1:PORT
	CosmosEndpoint string // https://127.0.0.1:PORT/
	CosmosCA       string // PEM file of the authority that signed its certificate
	VisionAddr     string // 127.0.0.1:PORT
	// Env holds the credentials the app needs for them, as NAME=value: the
	// local servers' well-known S3 key and a Cosmos key made up for this run
	// (the server accepts any well-formed key).
	Env []string

	stops []func()
}

// StartAll starts s3rver and cosmosdb-server as processes keeping their data
// under dir, and a Vision-compatible server in this process that labels with
// labeller, all on 127.0.0.1.
func StartAll(dir string, labeller cloud.Labeller) (*Clouds, error) {
	c := &Clouds{}
	s3, err := S3rver(filepath.Join(dir, "s3"))
	if err != nil {
		return nil, err
	}
	c.stops = append(c.stops, s3.Stop)
	c.S3Endpoint = "http://" + s3.Addr

	cosmos, ca, err := Cosmos(dir)
	if err != nil {
		c.Stop()
		return nil, err
	}
	c.stops = append(c.stops, cosmos.Stop)
	c.CosmosEndpoint, c.CosmosCA = "https://"+cosmos.Addr+"/", ca

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.Stop()
		return nil, err
	}
	g := visionserver.NewGRPCServer(visionserver.New(labeller, visionserver.Options{}))
	go g.Serve(lis)
	c.stops = append(c.stops, g.Stop)
	c.VisionAddr = lis.Addr().String()

	key := make([]byte, 64)
	if _, err := rand.Read(key); err != nil {
		c.Stop()
		return nil, err
	}
	c.Env = []string{
		"AWS_ACCESS_KEY_ID=" + S3Key, "AWS_SECRET_ACCESS_KEY=" + S3Key,
		"AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true",
		"AZURE_COSMOS_KEY=" + base64.StdEncoding.EncodeToString(key),
	}
	return c, nil
}

// Stop stops every server that was started.
func (c *Clouds) Stop() {
	for i := len(c.stops) - 1; i >= 0; i-- {
		c.stops[i]()
	}
	c.stops = nil
}

// WriteConfig writes a settings file at path that points each role at its
// local server, and returns the settings.
func (c *Clouds) WriteConfig(path string) (*config.Config, error) {
	if c.S3Endpoint == "" {
		return nil, errors.New("the local clouds are not started")
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	cfg.Store.Provider = "s3"
	cfg.Store.S3 = config.S3{Bucket: "multicloud-demo", Endpoint: c.S3Endpoint,
		PathStyle: true, CreateBucket: true, Region: "us-east-1"}
	cfg.Labeller.Provider = "vision"
	cfg.Labeller.Vision = config.Vision{Endpoint: c.VisionAddr, Insecure: true, Objects: true}
	cfg.Catalogue.Provider = "cosmos"
	cfg.Catalogue.Cosmos = config.Cosmos{Endpoint: c.CosmosEndpoint, CACert: c.CosmosCA,
		Database: "multicloud", Container: "records"}
	return cfg, cfg.Save()
}
