"""evtp.cases"""
