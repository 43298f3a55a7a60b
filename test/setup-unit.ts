// Unit specs run in UTC like every other, and need no database or broker: nothing else is set up.
process.env.TZ = 'UTC';
