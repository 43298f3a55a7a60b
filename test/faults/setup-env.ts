// Dates are compared as YYYY-MM-DD strings: the suite runs in UTC like the main one.
process.env.TZ = 'UTC';
