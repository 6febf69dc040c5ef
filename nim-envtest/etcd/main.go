// Command etcd runs a single-member etcd server for the nim-envtest harness.
//
// etcd's own server module carries `replace` directives, so `go install` cannot
// build it; this module embeds `go.etcd.io/etcd/server/v3/embed` at the version
// k8s.io/apiextensions-apiserver v0.34.13 itself resolves (v3.6.4), so the
// API server talks to the etcd it was tested with. The member keeps its data
// in the directory it is given, never fsyncs (the data is thrown away with
// the test run), and logs only errors.
package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

func main() {
	dataDir := flag.String("data-dir", "", "directory for the member's data (required)")
	clientURL := flag.String("listen-client-url", "http://127.0.0.1:2379", "URL clients connect to")
	peerURL := flag.String("listen-peer-url", "http://127.0.0.1:2380", "URL for peer traffic")
	flag.Parse()
	if err := run(*dataDir, *clientURL, *peerURL); err != nil {
		fmt.Fprintln(os.Stderr, "etcd:", err)
		os.Exit(1)
	}
}

func run(dataDir, clientURL, peerURL string) error {
	if dataDir == "" {
		return fmt.Errorf("--data-dir is required")
	}
	client, err := url.Parse(clientURL)
	if err != nil {
		return fmt.Errorf("--listen-client-url %q: %w", clientURL, err)
	}
	peer, err := url.Parse(peerURL)
	if err != nil {
		return fmt.Errorf("--listen-peer-url %q: %w", peerURL, err)
	}

	cfg := embed.NewConfig()
	cfg.Name = "envtest"
	cfg.Dir = dataDir
	cfg.UnsafeNoFsync = true
	cfg.LogLevel = "error"
	cfg.ListenClientUrls = []url.URL{*client}
	cfg.AdvertiseClientUrls = []url.URL{*client}
	cfg.ListenPeerUrls = []url.URL{*peer}
	cfg.AdvertisePeerUrls = []url.URL{*peer}
	cfg.InitialCluster = cfg.Name + "=" + peer.String()

	server, err := embed.StartEtcd(cfg)
	if err != nil {
		return err
	}
	defer server.Close()

	select {
	case <-server.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		return fmt.Errorf("member not ready after 60s")
	}
	// The harness waits for this line before it starts the API server.
	fmt.Println("etcd ready on", client.String())

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-signals:
		return nil
	case err := <-server.Err():
		return err
	}
}
