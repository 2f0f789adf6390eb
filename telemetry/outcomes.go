package telemetry

// Request outcomes, the values of imgedge_requests_total's outcome label.
const (
	OutcomeResized       = "resized"
	OutcomeNotModified   = "not_modified"
	OutcomePassthrough   = "passthrough"
	OutcomeBadRequest    = "bad_request"
	OutcomeUnsupported   = "unsupported"
	OutcomeUnprocessable = "unprocessable"
	OutcomeTooLarge      = "too_large"
	OutcomeBusy          = "busy"
	OutcomeOriginError   = "origin_error"
	OutcomeOriginTimeout = "origin_timeout"
	OutcomeCanceled      = "canceled"
	OutcomeHit           = "hit"
	OutcomeRateLimited   = "rate_limited"
	OutcomeForwarded     = "forwarded"
	OutcomeTooSlow       = "too_slow"
	OutcomeError         = "error"
	OutcomeForbidden     = "forbidden"
	OutcomePeer          = "peer"   // answered by the owner in this zone
	OutcomeShield        = "shield" // an original for a zone that shields through this one
	OutcomeRedirected    = "redirected"
)
