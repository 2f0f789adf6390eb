package balancer

import (
	"context"
	"time"

	"github.com/hashicorp/consul/api"
	"go.uber.org/zap"
)

// heartbeat registers this node and keeps its TTL check passing (warning
// while busy) three times per TTL, and at once after SetBusy. When an
// update fails, because Consul restarted and forgot the check or cannot be
// reached, it registers again.
func (b *Balancer) heartbeat() {
	ticker := time.NewTicker(b.cfg.TTL / 3)
	defer ticker.Stop()
	failing := false
	for {
		var err error
		if b.registered.Load() {
			err = b.updateTTL()
			if err != nil {
				b.registered.Store(false)
				b.logger.Debug("TTL update failed, registering again", zap.Error(err))
			}
		}
		if !b.registered.Load() {
			err = b.register()
			b.registered.Store(err == nil)
		}
		switch {
		case b.ctx.Err() != nil:
			return
		case err != nil:
			b.registrationErrors.Add(1)
			if !failing {
				b.logger.Warn("cannot register in Consul; serving alone until it is back",
					zap.String("service_id", b.cfg.ID), zap.Error(err))
			}
			failing = true
		case failing:
			b.logger.Info("registered in Consul again", zap.String("service_id", b.cfg.ID))
			failing = false
		}
		select {
		case <-b.ctx.Done():
			return
		case <-ticker.C:
		case <-b.nudge:
		}
	}
}

// status returns the check status and output for the busy state.
func (b *Balancer) status() (status, output string) {
	if b.busy.Load() {
		return api.HealthWarning, "busy: processing slots saturated"
	}
	return api.HealthPassing, "ok"
}

// register (re-)registers the service with its TTL check already in the
// current state, so peers never see it critical in between.
func (b *Balancer) register() error {
	ctx, cancel := context.WithTimeout(b.ctx, callTimeout)
	defer cancel()
	status, _ := b.status()
	reg := &api.AgentServiceRegistration{
		ID:      b.cfg.ID,
		Name:    b.cfg.Service,
		Address: b.host,
		Port:    b.port,
		Meta:    map[string]string{"zone": b.cfg.Zone, "scheme": b.scheme},
		Check: &api.AgentServiceCheck{
			CheckID:                        b.checkID,
			Name:                           "imgedge heartbeat",
			TTL:                            b.cfg.TTL.String(),
			Status:                         status,
			Notes:                          "kept passing by the imgedge node; warning while its processing slots are saturated",
			DeregisterCriticalServiceAfter: b.cfg.DeregisterAfter.String(),
		},
	}
	opts := api.ServiceRegisterOpts{ReplaceExistingChecks: true}.WithContext(ctx)
	return b.client.Agent().ServiceRegisterOpts(reg, opts)
}

// updateTTL resets the TTL check's clock with the current state.
func (b *Balancer) updateTTL() error {
	ctx, cancel := context.WithTimeout(b.ctx, callTimeout)
	defer cancel()
	status, output := b.status()
	return b.client.Agent().UpdateTTLOpts(b.checkID, output, status, (&api.QueryOptions{}).WithContext(ctx))
}
