package server

import (
	"time"

	"github.com/nats-io/nats.go"

	"github.com/omnirank/omnirank/auth"
	"github.com/omnirank/omnirank/metrics"
)

// setupSecurity loads the TLS certificates and the token file and builds
// the API guard.
func (s *Server) setupSecurity() error {
	var tokens *auth.Tokens
	if s.cfg.AuthTokens != "" {
		var err error
		if tokens, err = auth.LoadTokens(s.cfg.AuthTokens); err != nil {
			return err
		}
		s.log.Info("API tokens loaded", "tokens", tokens.Len())
	}
	if s.cfg.TLSCert != "" {
		var err error
		if s.tls, err = auth.ServerTLS(s.cfg.TLSCert, s.cfg.TLSKey, s.cfg.TLSClientCA); err != nil {
			return err
		}
	}
	g, err := auth.NewGuard(tokens, s.cfg.Limits, metrics.NewGuard(s.reg))
	if err != nil {
		return err
	}
	s.guard = g
	return nil
}

// natsOptions are the NATS client's options: reconnect forever, and the
// credentials and CA the configuration gives.
func natsOptions(cfg Config) []nats.Option {
	opts := []nats.Option{nats.Name("omnirank"), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond)}
	if cfg.NATSCreds != "" {
		opts = append(opts, nats.UserCredentials(cfg.NATSCreds))
	}
	if cfg.NATSUser != "" {
		opts = append(opts, nats.UserInfo(cfg.NATSUser, cfg.NATSPassword))
	}
	if cfg.NATSToken != "" {
		opts = append(opts, nats.Token(cfg.NATSToken))
	}
	if cfg.NATSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.NATSCA))
	}
	return opts
}
