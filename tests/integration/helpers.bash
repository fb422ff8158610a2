# shared bats helpers
