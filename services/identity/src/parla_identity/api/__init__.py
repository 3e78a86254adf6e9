"""The identity service's HTTP controllers."""
