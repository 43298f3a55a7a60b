/** The wire contracts of contract §6, one file per topic: its schema, its parser and its builder. */
export * from './wire';
export * from './valuation-required';
export * from './market-price-persisted';
export * from './fx-rate-persisted';
export * from './snapshot-persisted';
export * from './dead-letter';
