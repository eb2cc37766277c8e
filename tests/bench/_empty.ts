// An empty program: the floor of every start-up figure in startup.ts.
