from stripe_sandbox import testing

stripe_sandbox_server = testing.stripe_sandbox_server
stripe_sandbox = testing.stripe_sandbox
webhook_receiver = testing.webhook_receiver
