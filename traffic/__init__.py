"""evtp.traffic"""
