CREATE TABLE activity_exports (
	target VARCHAR NOT NULL,
	last_event_id INTEGER NOT NULL,
	at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (target)
);

CREATE TABLE claims (
	id SERIAL NOT NULL,
	flow VARCHAR NOT NULL,
	object VARCHAR NOT NULL,
	owner VARCHAR NOT NULL,
	lease_until TIMESTAMP WITH TIME ZONE NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	attempts INTEGER DEFAULT '1' NOT NULL,
	error VARCHAR,
	version INTEGER DEFAULT '0' NOT NULL,
	PRIMARY KEY (id)
);

CREATE TABLE customers (
	system_id SERIAL NOT NULL,
	external_id VARCHAR,
	email VARCHAR,
	timezone VARCHAR,
	unsubscribed BOOLEAN NOT NULL,
	bounced VARCHAR NOT NULL,
	soft_bounces INTEGER NOT NULL,
	profile JSON NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (system_id),
	UNIQUE (external_id)
);

CREATE INDEX ix_customers_email ON customers (email);

CREATE INDEX ix_customers_email_lower ON customers (lower(email));

CREATE TABLE events (
	id SERIAL NOT NULL,
	kind VARCHAR NOT NULL,
	at TIMESTAMP WITH TIME ZONE NOT NULL,
	customer_id INTEGER,
	flow VARCHAR,
	object VARCHAR,
	journey_id INTEGER,
	data JSON NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_events_at ON events (at);

CREATE INDEX ix_events_customer ON events (customer_id, kind, at);

CREATE INDEX ix_events_flow ON events (flow, object);

CREATE INDEX ix_events_flow_id ON events (flow, id);

CREATE TABLE files (
	id SERIAL NOT NULL,
	kind VARCHAR NOT NULL,
	key VARCHAR NOT NULL,
	flow VARCHAR,
	object VARCHAR,
	batch VARCHAR,
	location VARCHAR NOT NULL,
	state VARCHAR NOT NULL,
	size INTEGER,
	mtime FLOAT,
	detail JSON NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_files_kind_key UNIQUE (kind, key)
);

CREATE INDEX ix_files_batch ON files (kind, batch);

CREATE INDEX ix_files_object ON files (kind, flow, object, state);

CREATE TABLE flow_states (
	flow VARCHAR NOT NULL,
	started BOOLEAN NOT NULL,
	changed_at TIMESTAMP WITH TIME ZONE NOT NULL,
	version INTEGER DEFAULT '0' NOT NULL,
	PRIMARY KEY (flow)
);

CREATE TABLE flow_versions (
	flow VARCHAR NOT NULL,
	number INTEGER NOT NULL,
	hash VARCHAR NOT NULL,
	yaml VARCHAR NOT NULL,
	deployed_by VARCHAR NOT NULL,
	deployed_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (flow, number)
);

CREATE TABLE groups (
	id SERIAL NOT NULL,
	name VARCHAR NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (name)
);

CREATE TABLE ingested_bounces (
	key VARCHAR NOT NULL,
	at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (key)
);

CREATE TABLE journeys (
	id SERIAL NOT NULL,
	flow VARCHAR NOT NULL,
	customer_id INTEGER NOT NULL,
	object VARCHAR NOT NULL,
	state VARCHAR NOT NULL,
	ready_at TIMESTAMP WITH TIME ZONE,
	wake_on VARCHAR,
	entered_at TIMESTAMP WITH TIME ZONE NOT NULL,
	arrived_at TIMESTAMP WITH TIME ZONE NOT NULL,
	via VARCHAR NOT NULL,
	data JSON NOT NULL,
	claim_id INTEGER,
	release_id INTEGER,
	version INTEGER DEFAULT '0' NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_journeys_at ON journeys (flow, object, state, ready_at, id);

CREATE INDEX ix_journeys_customer ON journeys (customer_id, flow);

CREATE INDEX ix_journeys_ready ON journeys (state, ready_at, id);

CREATE INDEX ix_journeys_wake ON journeys (customer_id, wake_on);

CREATE TABLE locks (
	name VARCHAR NOT NULL,
	owner VARCHAR NOT NULL,
	until TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (name)
);

CREATE TABLE mail_windows (
	flow VARCHAR NOT NULL,
	object VARCHAR NOT NULL,
	"window" TIMESTAMP WITH TIME ZONE NOT NULL,
	count INTEGER NOT NULL,
	PRIMARY KEY (flow, object, "window")
);

CREATE TABLE memberships (
	group_id INTEGER NOT NULL,
	customer_id INTEGER NOT NULL,
	added_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (group_id, customer_id),
	FOREIGN KEY(group_id) REFERENCES groups (id)
);

CREATE INDEX ix_memberships_customer ON memberships (customer_id);

CREATE TABLE rate_buckets (
	flow VARCHAR NOT NULL,
	object VARCHAR NOT NULL,
	tokens FLOAT NOT NULL,
	at FLOAT NOT NULL,
	taken FLOAT NOT NULL,
	PRIMARY KEY (flow, object)
);

CREATE TABLE records (
	id SERIAL NOT NULL,
	collection VARCHAR NOT NULL,
	key VARCHAR NOT NULL,
	customer_id INTEGER,
	data JSON NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_records_collection_key UNIQUE (collection, key)
);

CREATE INDEX ix_records_customer ON records (customer_id, collection, created_at);

CREATE TABLE secrets (
	name VARCHAR NOT NULL,
	value VARCHAR NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (name)
);

CREATE TABLE send_log (
	journey_id INTEGER NOT NULL,
	object VARCHAR NOT NULL,
	state VARCHAR NOT NULL,
	message_id VARCHAR NOT NULL,
	at TIMESTAMP WITH TIME ZONE NOT NULL,
	attempts INTEGER NOT NULL,
	detail VARCHAR,
	owner VARCHAR,
	PRIMARY KEY (journey_id, object)
);

CREATE INDEX ix_send_log_message ON send_log (message_id);

CREATE TABLE soap_resources (
	id SERIAL NOT NULL,
	kind VARCHAR NOT NULL,
	customer_ids TEXT NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id)
);

CREATE TABLE steps (
	id SERIAL NOT NULL,
	journey_id INTEGER NOT NULL,
	flow VARCHAR NOT NULL,
	object VARCHAR NOT NULL,
	at TIMESTAMP WITH TIME ZONE NOT NULL,
	output VARCHAR,
	reason VARCHAR NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_steps_flow ON steps (flow, object, output);

CREATE INDEX ix_steps_journey ON steps (journey_id);

CREATE TABLE tokens (
	id SERIAL NOT NULL,
	user_id INTEGER NOT NULL,
	hash VARCHAR NOT NULL,
	webhook VARCHAR,
	expires_at TIMESTAMP WITH TIME ZONE,
	revoked_at TIMESTAMP WITH TIME ZONE,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	scopes VARCHAR,
	last_used_at TIMESTAMP WITH TIME ZONE,
	PRIMARY KEY (id),
	FOREIGN KEY(user_id) REFERENCES users (id),
	UNIQUE (hash)
);

CREATE INDEX ix_tokens_user_id ON tokens (user_id);

CREATE TABLE transactional_sends (
	key VARCHAR NOT NULL,
	flow VARCHAR NOT NULL,
	object VARCHAR NOT NULL,
	customer_id INTEGER NOT NULL,
	journey_id INTEGER NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (key)
);

CREATE TABLE triggers (
	flow VARCHAR NOT NULL,
	object VARCHAR NOT NULL,
	due_at TIMESTAMP WITH TIME ZONE,
	last_at TIMESTAMP WITH TIME ZONE,
	PRIMARY KEY (flow, object)
);

CREATE TABLE users (
	id SERIAL NOT NULL,
	name VARCHAR NOT NULL,
	service BOOLEAN NOT NULL,
	active BOOLEAN NOT NULL,
	last_activity_at TIMESTAMP WITH TIME ZONE,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (name)
);

CREATE TABLE webhook_deliveries (
	endpoint VARCHAR NOT NULL,
	event_id VARCHAR NOT NULL,
	result JSON NOT NULL,
	at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (endpoint, event_id)
);

CREATE TABLE workers (
	id VARCHAR NOT NULL,
	host VARCHAR NOT NULL,
	pid INTEGER NOT NULL,
	started_at TIMESTAMP WITH TIME ZONE NOT NULL,
	heartbeat_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id)
);
